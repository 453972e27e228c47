// Command imc-controller runs Knative Eventing's InMemoryChannel controller and
// its admission webhook outside a cluster, from upstream's exported constructors
// (knative.dev/eventing at the version the wrapper's go.mod pins), as upstream's
// imc-controller Deployment does.
//
// It exists because upstream's main serves health probes on a hard-coded :8080
// (knative.dev/pkg sharedmain), which the local API and the other processes
// need: here they are disabled. It is configured as upstream's Deployment
// configures it (WEBHOOK_NAME, WEBHOOK_PORT, SYSTEM_NAMESPACE, DISPATCHER_IMAGE);
// KUBECONFIG names the cluster.
package main

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/signals"
	"knative.dev/pkg/webhook"
	"knative.dev/pkg/webhook/certificates"
	"knative.dev/pkg/webhook/resourcesemantics"
	"knative.dev/pkg/webhook/resourcesemantics/defaulting"
	"knative.dev/pkg/webhook/resourcesemantics/validation"

	messagingv1 "knative.dev/eventing/pkg/apis/messaging/v1"
	imc "knative.dev/eventing/pkg/reconciler/inmemorychannel/controller"
)

// The webhook's secret and configurations, as config/channels/in-memory-channel/webhooks
// names them: the webhook's reconcilers fill in exactly those objects.
const (
	webhookSecret  = "inmemorychannel-webhook-certs"
	defaultingName = "inmemorychannel.eventing.knative.dev"
	validationName = "validation.inmemorychannel.eventing.knative.dev"
)

var imcTypes = map[schema.GroupVersionKind]resourcesemantics.GenericCRD{
	messagingv1.SchemeGroupVersion.WithKind("InMemoryChannel"): &messagingv1.InMemoryChannel{},
}

func main() {
	ctx := sharedmain.WithHealthProbesDisabled(signals.NewContext())
	ctx = webhook.WithOptions(ctx, webhook.Options{
		ServiceName: webhook.NameFromEnv(),
		Port:        webhook.PortFromEnv(8443),
		SecretName:  webhookSecret,
		// Upstream drains 45 s on SIGTERM for kube-proxy to stop routing to the
		// pod; here nothing routes by endpoints, and the launcher stops within 5 s.
		GracePeriod: time.Second,
	})
	sharedmain.MainWithContext(ctx, webhook.NameFromEnv(),
		certificates.NewController,
		validating,
		defaultingController,
		imc.NewController,
	)
}

func validating(ctx context.Context, _ configmap.Watcher) *controller.Impl {
	return validation.NewAdmissionController(ctx, validationName, "/resource-validation",
		imcTypes, nil, true, map[schema.GroupVersionKind]validation.Callback{})
}

func defaultingController(ctx context.Context, _ configmap.Watcher) *controller.Impl {
	return defaulting.NewAdmissionController(ctx, defaultingName, "/defaulting", imcTypes, nil, true)
}
