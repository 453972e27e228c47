// Command apiserver-adapter is Knative Eventing's ApiServerSource receive
// adapter (knative.dev/eventing cmd/apiserver_receive_adapter, at the version
// the wrapper's go.mod pins) with one change: its health-probe server is off.
//
// Upstream's adapter main serves probes on a hard-coded :8080
// (knative.dev/pkg injection.HealthCheckDefaultPort), which the local API
// (make dev) and every other adapter of the local cluster would need; nothing
// probes the process here (kwok runs its Deployment's pod as a stand-in). The
// rest is upstream's main, line for line: the adapter, its informers, its
// CloudEvents client. It is configured as the Deployment the ApiServerSource
// controller makes configures it (K_SINK, K_SOURCE_CONFIG, NAME, NAMESPACE,
// ...); KUBECONFIG names the cluster; PROFILING_PORT moves its profiling server.
package main

import (
	filteredFactory "knative.dev/pkg/client/injection/kube/informers/factory/filtered"
	"knative.dev/pkg/signals"

	"knative.dev/eventing/pkg/adapter/apiserver"
	"knative.dev/eventing/pkg/adapter/v2"
	"knative.dev/eventing/pkg/auth"
	"knative.dev/eventing/pkg/eventingtls"
)

const (
	component = "apiserversource"
)

func main() {
	ctx := signals.NewContext()
	ctx = adapter.WithInjectorEnabled(ctx)
	ctx = adapter.WithHealthProbesDisabled(ctx)

	ctx = filteredFactory.WithSelectors(ctx,
		auth.OIDCLabelSelector,
		eventingtls.TrustBundleLabelSelector,
	)

	adapter.MainWithContext(ctx, component, apiserver.NewEnvConfig, apiserver.NewAdapter)
}
