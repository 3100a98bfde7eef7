package diagnose

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
)

// Where the fixes point.
const (
	readmeTroubleshooting = `README "Troubleshooting by condition reason"`
	docAntreaSide         = "docs/install.md#4-the-antrea-side"
	docWhenWrong          = "docs/install.md#when-something-is-wrong"
	docTakeover           = "docs/cainject.md#when-nothing-is-published"
	docRotation           = `README "How CA rotation works"`
)

// row names a row of one of the README's troubleshooting tables.
func row(table, r string) string {
	return fmt.Sprintf("(%s, %s table, row %s)", readmeTroubleshooting, table, r)
}

// unreadable is the result for an object that could not be read: skipped when forbidden (the
// caller's credentials do not reach it), an error otherwise.
func unreadable(check, object, what string, err error) Result {
	switch {
	case apierrors.IsForbidden(err):
		return Result{Check: check, Status: StatusSkipped, Object: object,
			Message: fmt.Sprintf("forbidden: you may not read %s", what),
			Fix:     "run with credentials that may read it (docs/install.md \"5. Check that it works\" lists what diagnose reads): " + err.Error()}
	case meta.IsNoMatchError(err):
		return Result{Check: check, Status: StatusError, Object: object,
			Message: fmt.Sprintf("cannot read %s: its API is not installed (%v)", what, err),
			Fix:     "install cert-manager and antrea-issuer's chart (docs/install.md)"}
	default:
		return Result{Check: check, Status: StatusError, Object: object,
			Message: fmt.Sprintf("cannot read %s: %v", what, err)}
	}
}

// skipped is a check that cannot run because what it needs is missing (an earlier line says why).
func skipped(check, object, format string, args ...any) Result {
	return Result{Check: check, Status: StatusSkipped, Object: object, Message: fmt.Sprintf(format, args...)}
}

func ok(check, object, format string, args ...any) Result {
	return Result{Check: check, Status: StatusOK, Object: object, Message: fmt.Sprintf(format, args...)}
}

func problem(check string, status Status, object, fix, format string, args ...any) Result {
	return Result{Check: check, Status: status, Object: object, Message: fmt.Sprintf(format, args...), Fix: fix}
}

// fingerprint identifies bytes without quoting them.
func fingerprint(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// daysLeft is the whole days from now until t (negative once past).
func daysLeft(now, t time.Time) int {
	return int(t.Sub(now).Hours() / 24)
}

// age is a short human duration.
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Minute).String()
	case d < 48*time.Hour:
		return strings.TrimSuffix(d.Round(time.Hour).String(), "0m0s")
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

func date(t time.Time) string { return t.UTC().Format(time.RFC3339) }
