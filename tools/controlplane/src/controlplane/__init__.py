"""A real local Kubernetes control plane for tests and ``make dev``.

etcd and kube-apiserver are built once from their Go modules
(``controlplane.binaries``), started on loopback with RBAC, ServiceAccount
token signing and the project's CRDs (``controlplane.cluster``), and stopped
without leaving processes or files behind.
"""
