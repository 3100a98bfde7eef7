package v1alpha1

import (
	"fmt"
	"time"
)

// Duration is a duration in Go's syntax, such as "5m", "1h30m" or "8760h". It is a string rather
// than metav1.Duration so that reading an issuer never fails: an object stored before the API
// server validated durations decodes, and only that issuer reports its spec invalid instead of
// every issuer of the cluster becoming unreadable.
// +kubebuilder:validation:MaxLength=32
// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
type Duration string

// Parse returns the duration, or an error naming the value. An empty Duration parses as 0.
func (d Duration) Parse() (time.Duration, error) {
	if d == "" {
		return 0, nil
	}
	v, err := time.ParseDuration(string(d))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 5m or 8760h", string(d))
	}
	return v, nil
}

// Bounds of the durations of the spec. The CRD's validation rules repeat them (CEL cannot refer to
// Go constants); TestSpecValidation in issuer/ keeps both in step on a real API server.
const (
	MinCADuration       = 2 * time.Hour
	MaxCADuration       = 10 * 365 * 24 * time.Hour // 87600h
	MinPhaseDurationMin = time.Second
	MaxPhaseDuration    = 7 * 24 * time.Hour // 168h
	// ReissueAllowance is the time a rotation allows, on top of the two phases' minimum duration,
	// for cert-manager to re-issue every certificate (it does so three times: after Prepare, after
	// Activate and after Retire): renewBefore must be at least 2×minPhaseDuration + ReissueAllowance.
	ReissueAllowance       = 30 * time.Minute
	MaxCertificateDuration = MaxCADuration
)
