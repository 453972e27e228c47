// Command eventing-webhook runs Knative Eventing's webhook outside a cluster:
// defaulting, validation, conversion (EventTypes, PingSources), the config
// validation and the SinkBinding webhook, assembled from upstream's exported
// constructors (knative.dev/eventing at the version the wrapper's go.mod pins).
//
// It exists because upstream's main serves health probes on a hard-coded :8080
// (knative.dev/pkg sharedmain): here they are disabled, and the launcher checks
// that the apiserver gets a Broker defaulted through it instead. It is
// configured as upstream's eventing-webhook Deployment configures it
// (WEBHOOK_NAME, WEBHOOK_PORT, SYSTEM_NAMESPACE, SINK_BINDING_SELECTION_MODE);
// KUBECONFIG names the cluster.
package main

import (
	"context"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	cminformer "knative.dev/pkg/client/injection/kube/informers/core/v1/configmap/filtered"
	kubefiltered "knative.dev/pkg/client/injection/kube/informers/factory/filtered"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/leaderelection"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/signals"
	"knative.dev/pkg/webhook"
	"knative.dev/pkg/webhook/certificates"
	"knative.dev/pkg/webhook/configmaps"
	"knative.dev/pkg/webhook/psbinding"
	"knative.dev/pkg/webhook/resourcesemantics"
	"knative.dev/pkg/webhook/resourcesemantics/conversion"
	"knative.dev/pkg/webhook/resourcesemantics/defaulting"
	"knative.dev/pkg/webhook/resourcesemantics/validation"

	defaultconfig "knative.dev/eventing/pkg/apis/config"
	"knative.dev/eventing/pkg/apis/eventing"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"
	eventingv1beta1 "knative.dev/eventing/pkg/apis/eventing/v1beta1"
	eventingv1beta2 "knative.dev/eventing/pkg/apis/eventing/v1beta2"
	eventingv1beta3 "knative.dev/eventing/pkg/apis/eventing/v1beta3"
	"knative.dev/eventing/pkg/apis/feature"
	flowsv1 "knative.dev/eventing/pkg/apis/flows/v1"
	channelconfig "knative.dev/eventing/pkg/apis/messaging/config"
	messagingv1 "knative.dev/eventing/pkg/apis/messaging/v1"
	"knative.dev/eventing/pkg/apis/sinks"
	sinksv1alpha1 "knative.dev/eventing/pkg/apis/sinks/v1alpha1"
	"knative.dev/eventing/pkg/apis/sources"
	pingconfig "knative.dev/eventing/pkg/apis/sources/config"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	sourcesv1alpha1 "knative.dev/eventing/pkg/apis/sources/v1alpha1"
	sourcesv1beta2 "knative.dev/eventing/pkg/apis/sources/v1beta2"
	"knative.dev/eventing/pkg/apis/sugar"
	"knative.dev/eventing/pkg/auth"
	versionedscheme "knative.dev/eventing/pkg/client/clientset/versioned/scheme"
	"knative.dev/eventing/pkg/eventingtls"
	o11yconfigmap "knative.dev/eventing/pkg/observability/configmap"
	"knative.dev/eventing/pkg/reconciler/sinkbinding"
	"knative.dev/eventing/pkg/requestreply"
)

// The webhook's secret and the webhook configurations' names are those of
// config/core/webhooks and config/core/deployments/webhook.yaml: the webhook's
// reconcilers fill in exactly those objects.
const (
	webhookSecret        = "eventing-webhook-certs"
	defaultingName       = "webhook.eventing.knative.dev"
	validationName       = "validation.webhook.eventing.knative.dev"
	configValidationName = "config.webhook.eventing.knative.dev"
	sinkBindingName      = "sinkbindings.webhook.sources.knative.dev"
)

// webhookTypes are the kinds the eventing webhook defaults and validates: every
// kind whose CRD config/core/resources installs, at every served version.
var webhookTypes = map[schema.GroupVersionKind]resourcesemantics.GenericCRD{
	eventingv1.SchemeGroupVersion.WithKind("Broker"):                 &eventingv1.Broker{},
	eventingv1.SchemeGroupVersion.WithKind("Trigger"):                &eventingv1.Trigger{},
	eventingv1alpha1.SchemeGroupVersion.WithKind("EventPolicy"):      &eventingv1alpha1.EventPolicy{},
	eventingv1alpha1.SchemeGroupVersion.WithKind("EventTransform"):   &eventingv1alpha1.EventTransform{},
	eventingv1alpha1.SchemeGroupVersion.WithKind("RequestReply"):     &eventingv1alpha1.RequestReply{},
	eventingv1beta1.SchemeGroupVersion.WithKind("EventType"):         &eventingv1beta1.EventType{},
	eventingv1beta2.SchemeGroupVersion.WithKind("EventType"):         &eventingv1beta2.EventType{},
	messagingv1.SchemeGroupVersion.WithKind("Channel"):               &messagingv1.Channel{},
	messagingv1.SchemeGroupVersion.WithKind("Subscription"):          &messagingv1.Subscription{},
	flowsv1.SchemeGroupVersion.WithKind("Parallel"):                  &flowsv1.Parallel{},
	flowsv1.SchemeGroupVersion.WithKind("Sequence"):                  &flowsv1.Sequence{},
	sourcesv1.SchemeGroupVersion.WithKind("ApiServerSource"):         &sourcesv1.ApiServerSource{},
	sourcesv1.SchemeGroupVersion.WithKind("ContainerSource"):         &sourcesv1.ContainerSource{},
	sourcesv1.SchemeGroupVersion.WithKind("PingSource"):              &sourcesv1.PingSource{},
	sourcesv1.SchemeGroupVersion.WithKind("SinkBinding"):             &sourcesv1.SinkBinding{},
	sourcesv1beta2.SchemeGroupVersion.WithKind("PingSource"):         &sourcesv1beta2.PingSource{},
	sourcesv1alpha1.SchemeGroupVersion.WithKind("IntegrationSource"): &sourcesv1alpha1.IntegrationSource{},
	sinksv1alpha1.SchemeGroupVersion.WithKind("JobSink"):             &sinksv1alpha1.JobSink{},
	sinksv1alpha1.SchemeGroupVersion.WithKind("IntegrationSink"):     &sinksv1alpha1.IntegrationSink{},
}

func main() {
	ctx := sharedmain.WithHealthProbesDisabled(signals.NewContext())
	// The conversion webhook decodes through client-go's scheme.
	if err := versionedscheme.AddToScheme(scheme.Scheme); err != nil {
		panic(err)
	}
	selector := psbinding.ExclusionSelector
	if os.Getenv("SINK_BINDING_SELECTION_MODE") == "inclusion" {
		selector = psbinding.InclusionSelector
	}
	ctx = webhook.WithOptions(ctx, webhook.Options{
		ServiceName: webhook.NameFromEnv(),
		Port:        webhook.PortFromEnv(8443),
		SecretName:  webhookSecret,
		// Upstream drains 45 s on SIGTERM for kube-proxy to stop routing to the
		// pod; here nothing routes by endpoints, and the launcher stops within 5 s.
		GracePeriod: time.Second,
	})
	ctx = kubefiltered.WithSelectors(ctx, auth.OIDCLabelSelector, eventingtls.TrustBundleLabelSelector)
	sharedmain.WebhookMainWithContext(ctx, webhook.NameFromEnv(),
		certificates.NewController,
		configValidation,
		resourceValidation,
		resourceDefaulting,
		resourceConversion,
		sinkbinding.NewController,
		sinkBindingWebhook(psbinding.WithSelector(selector)),
	)
}

// withStores returns a function that puts the eventing defaults, the channel
// defaults and the feature flags (watched from their ConfigMaps) into a request's
// context, which the kinds' SetDefaults/Validate read.
func withStores(ctx context.Context, cmw configmap.Watcher) func(context.Context) context.Context {
	logger := logging.FromContext(ctx)
	defaults := defaultconfig.NewStore(logger.Named("config-store"))
	defaults.WatchConfigs(cmw)
	channels := channelconfig.NewStore(logger.Named("channel-config-store"))
	channels.WatchConfigs(cmw)
	features := feature.NewStore(logger.Named("feature-config-store"))
	features.WatchConfigs(cmw)
	return func(ctx context.Context) context.Context {
		return features.ToContext(channels.ToContext(defaults.ToContext(ctx)))
	}
}

func resourceDefaulting(ctx context.Context, cmw configmap.Watcher) *controller.Impl {
	return defaulting.NewAdmissionController(ctx, defaultingName, "/defaulting", webhookTypes, withStores(ctx, cmw), true)
}

func resourceValidation(ctx context.Context, cmw configmap.Watcher) *controller.Impl {
	stores := withStores(ctx, cmw)
	pings := pingconfig.NewStore(logging.FromContext(ctx).Named("ping-config-store"))
	pings.WatchConfigs(cmw)
	sinkConfig := &sinks.Config{KubeClient: kubeclient.Get(ctx)}
	if err := requestreply.RegisterCESQLVerifyCorrelationIdFilter(ctx); err != nil {
		logging.FromContext(ctx).Warnw("RequestReply's CESQL filter is not registered", "error", err)
	}
	withContext := func(ctx context.Context) context.Context {
		return sinks.WithConfig(stores(pings.ToContext(ctx)), sinkConfig)
	}
	return validation.NewAdmissionController(ctx, validationName, "/resource-validation", webhookTypes,
		withContext, true, map[schema.GroupVersionKind]validation.Callback{})
}

func configValidation(ctx context.Context, _ configmap.Watcher) *controller.Impl {
	return configmaps.NewAdmissionController(ctx, configValidationName, "/config-validation",
		configmap.Constructors{
			o11yconfigmap.Name():           o11yconfigmap.Parse,
			logging.ConfigMapName():        logging.NewConfigFromConfigMap,
			leaderelection.ConfigMapName(): leaderelection.NewConfigFromConfigMap,
			sugar.ConfigName:               sugar.NewConfigFromConfigMap,
		})
}

func sinkBindingWebhook(opts ...psbinding.ReconcilerOption) func(context.Context, configmap.Watcher) *controller.Impl {
	return func(ctx context.Context, _ configmap.Watcher) *controller.Impl {
		trustBundles := cminformer.Get(ctx, eventingtls.TrustBundleLabelSelector).Lister()
		withContext := sinkbinding.WithContextFactory(ctx, trustBundles, func(types.NamespacedName) {})
		return psbinding.NewAdmissionController(ctx, sinkBindingName, "/sinkbindings",
			sinkbinding.ListAll, withContext, opts...)
	}
}

// resourceConversion converts the kinds stored at one version and read at
// another: EventTypes (stored v1beta2, read v1beta3 by the ingress and filter)
// and PingSources.
func resourceConversion(ctx context.Context, cmw configmap.Watcher) *controller.Impl {
	pingHub, eventTypeHub := sourcesv1beta2.SchemeGroupVersion.Version, eventingv1beta1.SchemeGroupVersion.Version
	return conversion.NewConversionController(ctx, "/resource-conversion",
		map[schema.GroupKind]conversion.GroupKindConversion{
			sourcesv1.Kind("PingSource"): {
				DefinitionName: sources.PingSourceResource.String(),
				HubVersion:     pingHub,
				Zygotes: map[string]conversion.ConvertibleObject{
					pingHub:                              &sourcesv1beta2.PingSource{},
					sourcesv1.SchemeGroupVersion.Version: &sourcesv1.PingSource{},
				},
			},
			eventingv1beta2.Kind("EventType"): {
				DefinitionName: eventing.EventTypesResource.String(),
				HubVersion:     eventTypeHub,
				Zygotes: map[string]conversion.ConvertibleObject{
					eventTypeHub: &eventingv1beta1.EventType{},
					eventingv1beta2.SchemeGroupVersion.Version: &eventingv1beta2.EventType{},
					eventingv1beta3.SchemeGroupVersion.Version: &eventingv1beta3.EventType{},
				},
			},
		},
		withStores(ctx, cmw))
}
