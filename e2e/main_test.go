// Package e2e tests antrea-issuer the way a user meets it: cert-manager's real controllers turn a
// Certificate into Antrea's Secret through antrea-issuer, and Antrea's clients trust it.
//
// Local mode (the default, part of `make test`) brings up everything with internal/localcluster.
// Cluster mode (E2E_MODE=cluster) runs the same assertions against the cluster KUBECONFIG points
// at, which must have cert-manager and antrea-issuer installed (hack/e2e-kind.sh does that).
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/localcluster"
	"antrea.io/antrea-issuer/internal/testenv"
)

// teamNamespace holds a namespaced AntreaIssuer and its CA Secret.
const teamNamespace = "antrea-e2e-team"

// suite is what every test uses, whatever the mode.
var suite struct {
	config *rest.Config
	client client.Client
	kube   kubernetes.Interface
	// local is the local installation; nil in cluster mode.
	local *localcluster.Cluster
	// logPath is antrea-issuer's log file in local mode.
	logPath string
}

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	ctx := context.Background()
	switch mode := os.Getenv("E2E_MODE"); mode {
	case "", "local":
		logFile, err := os.CreateTemp("", "antrea-issuer-e2e-*.log")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer logFile.Close()
		suite.logPath = logFile.Name()
		c, err := localcluster.Start(ctx, localcluster.Options{CASecretNamespaces: []string{teamNamespace}, Log: logFile})
		if err != nil {
			fmt.Fprintln(os.Stderr, "starting the local installation:", err)
			return 1
		}
		defer c.Stop()
		suite.local, suite.config, suite.client = c, c.Env.Config, c.Env.Client
	case "cluster":
		cfg, err := ctrl.GetConfig()
		if err != nil {
			fmt.Fprintln(os.Stderr, "E2E_MODE=cluster needs KUBECONFIG:", err)
			return 1
		}
		suite.config = cfg
		if suite.client, err = client.New(cfg, client.Options{Scheme: testenv.Scheme()}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	default:
		fmt.Fprintf(os.Stderr, "E2E_MODE=%q: want local or cluster\n", mode)
		return 1
	}
	var err error
	if suite.kube, err = kubernetes.NewForConfig(suite.config); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code != 0 && suite.logPath != "" {
		fmt.Fprintf(os.Stderr, "antrea-issuer's log: %s\n", suite.logPath)
		if data, err := os.ReadFile(suite.logPath); err == nil {
			if len(data) > 8000 {
				data = data[len(data)-8000:]
			}
			fmt.Fprintf(os.Stderr, "--- last lines of antrea-issuer's log ---\n%s\n", data)
		}
	} else if suite.logPath != "" {
		_ = os.Remove(suite.logPath)
	}
	return code
}

func samplePath(name string) string {
	return filepath.Join(testenv.RepoRoot(), "config", "samples", name)
}

// needLocal skips tests that need the stand-in Antrea server and the local aggregator.
func needLocal(t *testing.T) {
	t.Helper()
	if suite.local == nil {
		t.Skip("needs the local installation's Antrea stand-in (E2E_MODE=local)")
	}
}

// TestREADMEShowsTheSample keeps the README's example identical to the file the tests apply.
func TestREADMEShowsTheSample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	sample, err := os.ReadFile(samplePath("antrea-controller-tls.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```yaml\n"+string(sample)+"```") {
		t.Error("README.md's example differs from config/samples/antrea-controller-tls.yaml: copy the file into the README")
	}
}
