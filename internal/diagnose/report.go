package diagnose

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Status is the outcome of one check.
type Status string

// The statuses, in the JSON output's spelling.
const (
	// StatusOK: the check passed.
	StatusOK Status = "ok"
	// StatusWarning: nothing is broken yet, but it needs attention (for example a certificate
	// expiring within a week, an unrelated issuer not Ready, a rotation stuck).
	StatusWarning Status = "warning"
	// StatusError: something is broken, or will break clients.
	StatusError Status = "error"
	// StatusSkipped: the check could not run: an object could not be read (forbidden), or
	// what it checks does not exist because an earlier check failed.
	StatusSkipped Status = "skipped"
)

// Exit statuses of `antrea-issuer diagnose`.
const (
	// ExitOK: every check passed.
	ExitOK = 0
	// ExitErrors: at least one check found a problem.
	ExitErrors = 1
	// ExitWarnings: no problem found, but warnings, or checks skipped (not everything could be
	// verified).
	ExitWarnings = 2
	// ExitFailed: diagnose itself could not run (flags, kubeconfig, API server unreachable).
	ExitFailed = 3
)

// Result is one line of the report. The JSON field names are stable.
type Result struct {
	// Check is the check's id (see Checks).
	Check string `json:"check"`
	// Status is ok, warning, error or skipped.
	Status Status `json:"status"`
	// Object names what was checked, "<Kind>/<name>" or "<Kind>/<namespace>/<name>".
	Object string `json:"object,omitempty"`
	// Message says what was found.
	Message string `json:"message"`
	// Fix says what to do, for warnings and errors, naming the README's troubleshooting row.
	Fix string `json:"fix,omitempty"`
}

// Report is the outcome of every check.
type Report struct {
	AntreaNamespace string   `json:"antreaNamespace"`
	Secret          string   `json:"secret"`
	IssuerNamespace string   `json:"issuerNamespace"`
	Results         []Result `json:"checks"`
	Summary         Summary  `json:"summary"`
	ExitCode        int      `json:"exitCode"`
}

// Summary counts results by status.
type Summary struct {
	OK      int `json:"ok"`
	Warning int `json:"warning"`
	Error   int `json:"error"`
	Skipped int `json:"skipped"`
}

// NewReport summarizes results.
func NewReport(o Options, results []Result) Report {
	r := Report{AntreaNamespace: o.AntreaNamespace, Secret: o.SecretName, IssuerNamespace: o.IssuerNamespace, Results: results}
	for _, res := range results {
		switch res.Status {
		case StatusOK:
			r.Summary.OK++
		case StatusWarning:
			r.Summary.Warning++
		case StatusError:
			r.Summary.Error++
		case StatusSkipped:
			r.Summary.Skipped++
		}
	}
	switch {
	case r.Summary.Error > 0:
		r.ExitCode = ExitErrors
	case r.Summary.Warning > 0 || r.Summary.Skipped > 0:
		r.ExitCode = ExitWarnings
	default:
		r.ExitCode = ExitOK
	}
	return r
}

// WriteText writes one line per result and a summary.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "antrea-issuer diagnose: Antrea in namespace %s (Secret %s), antrea-issuer in namespace %s\n",
		r.AntreaNamespace, r.Secret, r.IssuerNamespace)
	for _, res := range r.Results {
		line := res.Message
		if res.Object != "" {
			line = res.Object + ": " + line
		}
		if res.Fix != "" {
			line += " FIX: " + res.Fix
		}
		fmt.Fprintf(&b, "%-7s %-21s %s\n", strings.ToUpper(string(res.Status)), res.Check, oneLine(line))
	}
	fmt.Fprintf(&b, "%d ok, %d warnings, %d errors, %d skipped: exit status %d\n",
		r.Summary.OK, r.Summary.Warning, r.Summary.Error, r.Summary.Skipped, r.ExitCode)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one indented JSON document.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// oneLine keeps a result on one line whatever a condition message holds.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// ExitError is returned by Run when the report is not all OK; it carries the exit status.
type ExitError struct {
	Code    int
	Summary Summary
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("%d errors, %d warnings, %d skipped", e.Summary.Error, e.Summary.Warning, e.Summary.Skipped)
}

// ExitCode is the process exit status for Run's error: 0 for nil, the report's for an
// *ExitError, ExitFailed for anything else (diagnose could not run).
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	if e, ok := errors.AsType[*ExitError](err); ok {
		return e.Code
	}
	return ExitFailed
}
