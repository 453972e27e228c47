// Command eventing-controller runs Knative Eventing's controllers outside a
// cluster, from upstream's exported constructors (knative.dev/eventing at the
// version the wrapper's go.mod pins): in one process, what upstream runs as three
// Deployments (eventing-controller, mt-broker-controller, imc-controller with the
// InMemoryChannel admission webhook it serves).
//
// It exists because upstream's mains serve health probes on a hard-coded :8080
// (knative.dev/pkg sharedmain), which the local API and the other processes
// need: here the probes are disabled, and the launcher watches the reconcilers'
// work instead (a probe Broker and Trigger Ready). Everything else is configured
// as upstream's Deployments configure it: the environment (SYSTEM_NAMESPACE,
// WEBHOOK_NAME, WEBHOOK_PORT, image names, ...) and the ConfigMaps of
// config/core and config/channels/in-memory-channel. KUBECONFIG names the cluster.
package main

import (
	kubefiltered "knative.dev/pkg/client/injection/kube/informers/factory/filtered"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/signals"

	"knative.dev/eventing/pkg/apis/sinks"
	"knative.dev/eventing/pkg/auth"
	eventingcerts "knative.dev/eventing/pkg/certificates"
	eventingfiltered "knative.dev/eventing/pkg/client/injection/informers/factory/filtered"
	"knative.dev/eventing/pkg/eventingtls"
	"knative.dev/eventing/pkg/reconciler/apiserversource"
	"knative.dev/eventing/pkg/reconciler/broker"
	trigger "knative.dev/eventing/pkg/reconciler/broker/trigger"
	"knative.dev/eventing/pkg/reconciler/channel"
	"knative.dev/eventing/pkg/reconciler/containersource"
	"knative.dev/eventing/pkg/reconciler/eventpolicy"
	"knative.dev/eventing/pkg/reconciler/eventtransform"
	"knative.dev/eventing/pkg/reconciler/eventtype"
	integrationsink "knative.dev/eventing/pkg/reconciler/integration/sink"
	integrationsource "knative.dev/eventing/pkg/reconciler/integration/source"
	"knative.dev/eventing/pkg/reconciler/jobsink"
	"knative.dev/eventing/pkg/reconciler/parallel"
	"knative.dev/eventing/pkg/reconciler/pingsource"
	"knative.dev/eventing/pkg/reconciler/requestreply"
	"knative.dev/eventing/pkg/reconciler/sequence"
	sourcecrd "knative.dev/eventing/pkg/reconciler/source/crd"
	"knative.dev/eventing/pkg/reconciler/subscription"
	sugarnamespace "knative.dev/eventing/pkg/reconciler/sugar/namespace"
	sugartrigger "knative.dev/eventing/pkg/reconciler/sugar/trigger"
)

func main() {
	ctx := sharedmain.WithHealthProbesDisabled(signals.NewContext())
	// The union of the label selectors the two upstream mains filter their
	// Secret/ConfigMap informers with.
	ctx = kubefiltered.WithSelectors(ctx,
		auth.OIDCLabelSelector,
		eventingtls.TrustBundleLabelSelector,
		sinks.JobSinkJobsLabelSelector,
		eventtransform.JsonataResourcesSelector,
		eventingcerts.SecretLabelSelectorPair,
		requestreply.SecretLabelSelector,
	)
	ctx = eventingfiltered.WithSelectors(ctx, eventtransform.JsonataResourcesSelector)
	sharedmain.MainWithContext(ctx, "eventing-controller",
		channel.NewController,
		subscription.NewController,
		eventtype.NewController,
		eventpolicy.NewController,
		parallel.NewController,
		sequence.NewController,
		apiserversource.NewController,
		pingsource.NewController,
		containersource.NewController,
		integrationsource.NewController,
		sourcecrd.NewController,
		jobsink.NewController,
		integrationsink.NewController,
		sugarnamespace.NewController,
		sugartrigger.NewController,
		eventtransform.NewController,
		requestreply.NewController,
		// The MT channel-based Broker class.
		broker.NewController,
		trigger.NewController,
	)
}
