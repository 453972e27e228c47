// Added to knative.dev/eventing/pkg/reconciler/inmemorychannel/dispatcher by the
// local cluster's build (tools/controlplane binaries.py, binaries.Patch), which
// also deletes the two constants this file replaces from upstream's controller.go.
// Upstream's dispatcher listens on a hard-coded :8080 and :8443; on one machine
// beside `make dev`'s API (127.0.0.1:8080) and other clusters' dispatchers, it
// takes its ports from the environment instead, 8080 and 8443 when unset.

package dispatcher

import (
	"os"
	"strconv"
)

var (
	httpPort  = portFromEnv("IMC_DISPATCHER_HTTP_PORT", 8080)
	httpsPort = portFromEnv("IMC_DISPATCHER_HTTPS_PORT", 8443)
)

func portFromEnv(name string, fallback int) int {
	value, err := strconv.Atoi(os.Getenv(name))
	if err != nil || value <= 0 {
		return fallback
	}
	return value
}
