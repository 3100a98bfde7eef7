package diagnose

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestEvaluateHealthy(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	results := Evaluate(w.state(), DefaultOptions())
	r := NewReport(DefaultOptions(), results)
	if r.ExitCode != ExitOK {
		t.Errorf("exit %d:\n%s", r.ExitCode, dump(results))
	}
	// Every check says something about a healthy installation, in the order of Checks.
	var seen []string
	for _, res := range results {
		if len(seen) == 0 || seen[len(seen)-1] != res.Check {
			seen = append(seen, res.Check)
		}
	}
	var ids []string
	for _, c := range Checks {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(seen, ids) {
		t.Errorf("checks reported %q, want %q", seen, ids)
	}
}

func TestReport(t *testing.T) {
	t.Parallel()
	results := []Result{
		{Check: CheckIssuer, Status: StatusOK, Object: "AntreaClusterIssuer/antrea", Message: "Ready (Checked)"},
		{Check: CheckConfigMap, Status: StatusError, Object: "ConfigMap/kube-system/antrea-ca", Message: "a message\nwith a newline", Fix: "fix it"},
		{Check: CheckApproval, Status: StatusSkipped, Message: "forbidden: you may not read it"},
	}
	tests := map[string]struct {
		results []Result
		code    int
	}{
		"all ok":           {results[:1], ExitOK},
		"an error":         {results, ExitErrors},
		"a skipped check":  {[]Result{results[0], results[2]}, ExitWarnings},
		"a warning":        {[]Result{{Check: "x", Status: StatusWarning, Message: "m", Fix: "f"}}, ExitWarnings},
		"nothing to check": {nil, ExitOK},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := NewReport(DefaultOptions(), tc.results)
			if r.ExitCode != tc.code {
				t.Errorf("exit %d, want %d", r.ExitCode, tc.code)
			}
			var out bytes.Buffer
			if err := r.WriteText(&out); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) != len(tc.results)+2 {
				t.Errorf("%d lines for %d results (want one each, a header and a summary):\n%s", len(lines), len(tc.results), out.String())
			}
			if !strings.HasSuffix(lines[len(lines)-1], fmt.Sprintf("exit status %d", tc.code)) {
				t.Errorf("summary %q", lines[len(lines)-1])
			}
		})
	}

	t.Run("text", func(t *testing.T) {
		t.Parallel()
		var out bytes.Buffer
		if err := NewReport(DefaultOptions(), results).WriteText(&out); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"OK      issuer-ready          AntreaClusterIssuer/antrea: Ready (Checked)\n",
			"ERROR   antrea-ca             ConfigMap/kube-system/antrea-ca: a message with a newline FIX: fix it\n",
			"SKIPPED approval              forbidden: you may not read it\n",
			"1 ok, 0 warnings, 1 errors, 1 skipped: exit status 1\n",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("text lacks %q:\n%s", want, out.String())
			}
		}
	})

	t.Run("JSON field names are stable", func(t *testing.T) {
		t.Parallel()
		var out bytes.Buffer
		if err := NewReport(DefaultOptions(), results).WriteJSON(&out); err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"antreaNamespace", "secret", "issuerNamespace", "checks", "summary", "exitCode"} {
			if _, ok := doc[k]; !ok {
				t.Errorf("no %q in %s", k, out.String())
			}
		}
		checks := doc["checks"].([]any)
		second := checks[1].(map[string]any)
		for k, v := range map[string]string{"check": "antrea-ca", "status": "error", "object": "ConfigMap/kube-system/antrea-ca", "fix": "fix it"} {
			if second[k] != v {
				t.Errorf("checks[1][%q] = %v, want %q", k, second[k], v)
			}
		}
		if _, ok := checks[2].(map[string]any)["fix"]; ok {
			t.Error("an empty fix is written")
		}
		summary := doc["summary"].(map[string]any)
		if summary["ok"] != 1.0 || summary["error"] != 1.0 || summary["skipped"] != 1.0 || summary["warning"] != 0.0 || doc["exitCode"] != 1.0 {
			t.Errorf("summary %v exit %v", summary, doc["exitCode"])
		}
	})

	t.Run("ExitCode", func(t *testing.T) {
		t.Parallel()
		for err, want := range map[error]int{
			nil:                          ExitOK,
			&ExitError{Code: ExitErrors}: ExitErrors,
			fmt.Errorf("wrapped: %w", &ExitError{Code: ExitWarnings}): ExitWarnings,
			fmt.Errorf("no kubeconfig"):                               ExitFailed,
		} {
			if got := ExitCode(err); got != want {
				t.Errorf("ExitCode(%v) = %d, want %d", err, got, want)
			}
		}
	})
}

// TestNoKeyMaterialInAnyReport renders the report of many broken states, in both formats, and
// looks for the serving key (which diagnose never reads) and for PEM in general.
func TestNoKeyMaterialInAnyReport(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	states := map[string]func(*State){
		"healthy":        func(*State) {},
		"no ca.crt":      func(s *State) { s.Secret.CA = nil },
		"antrea-ca odd":  func(s *State) { s.ConfigMap.Data["ca.crt"] = "junk" + string(w.leaf.CertPEM) },
		"bundle is junk": func(s *State) { s.APIServices[0].Spec.CABundle = w.leaf.CertPEM[:40] },
	}
	for name, mutate := range states {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := w.state()
			mutate(s)
			r := NewReport(DefaultOptions(), Evaluate(s, DefaultOptions()))
			var out bytes.Buffer
			if err := r.WriteText(&out); err != nil {
				t.Fatal(err)
			}
			if err := r.WriteJSON(&out); err != nil {
				t.Fatal(err)
			}
			assertNoKey(t, out.String(), w.leaf.KeyPEM)
			if strings.Contains(out.String(), "-----BEGIN") {
				t.Errorf("the report quotes PEM:\n%s", out.String())
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultOptions().Validate(); err != nil {
		t.Errorf("the defaults: %v", err)
	}
	o := DefaultOptions()
	o.Output, o.AntreaNamespace, o.TargetSelector, o.ClusterDomain = "yaml", "Kube_System", "", "x..y"
	err := o.Validate()
	for _, want := range []string{`-o "yaml"`, "--antrea-namespace", "--target-selector", "--cluster-domain"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
