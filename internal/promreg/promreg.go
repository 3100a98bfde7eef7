// Package promreg registers Prometheus collectors the way every controller of antrea-issuer
// does: on a registry passed in (controller-runtime's in the binary, a fresh one per test), and
// tolerating a collector of the same name registered before, which several managers in one test
// process would otherwise trip over.
package promreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c on reg and returns it, or returns the collector already registered under
// the same description when it has c's type. Any other registration error panics: it is a
// programming error (two metrics of one name with different labels), caught by every test run.
func Register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing
		}
	}
	panic(err)
}
