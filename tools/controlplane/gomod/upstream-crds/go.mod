// Wrapper module: pins the upstream projects whose CRDs the local cluster installs
// (controlplane.crds.UPSTREAM_CRDS) and builds nothing. The launcher reads their
// manifests from the Go module cache, where `go mod download -json <module>` run here
// says each module is extracted, at exactly the version required below (verified
// against go.sum). Bump a version here, then `go mod download <module>` to update
// go.sum; not `go mod tidy`, which drops requirements no package imports.
// (KServe's CRDs come from gomod/kserve-controller and Knative Eventing's from
// gomod/knative-eventing: the binaries' own pins.)
module kserve-functions.local/upstream-crds

go 1.26.0

require (
	knative.dev/serving v0.50.0
	sigs.k8s.io/gateway-api v1.6.1
)
