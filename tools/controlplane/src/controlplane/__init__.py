"""A real local Kubernetes cluster running KServe, for tests and ``make dev``.

etcd, the Kubernetes components, kwok and the KServe controller manager are
built once from their Go modules (``controlplane.binaries``), started on
loopback (``controlplane.cluster``: RBAC, ServiceAccount tokens, the project's
CRDs, fake nodes, KServe's webhooks and configuration), and stopped without
leaving processes or files behind.
"""
