package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"antrea.io/antrea-issuer/internal/diagnose"
)

// runDiagnose is `antrea-issuer diagnose [flags]`: flags → diagnose.Options → diagnose.Run. It
// returns the exit status (diagnose.ExitCode: 0 all passed, 1 errors, 2 warnings or skipped
// checks only, 3 could not run).
func runDiagnose(args []string) int {
	fs := flag.NewFlagSet("antrea-issuer diagnose", flag.ExitOnError)
	opts := newDiagnoseOptions(fs)
	_ = fs.Parse(args) // ExitOnError: never returns an error
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "antrea-issuer diagnose: unexpected arguments %q\n", fs.Args())
		return diagnose.ExitFailed
	}
	// controller-runtime's client logs nothing diagnose reports; its warning about a missing
	// logger would only be noise on stderr.
	ctrl.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := diagnose.Run(ctx, *opts, os.Stdout)
	if _, isExit := errors.AsType[*diagnose.ExitError](err); err != nil && !isExit {
		fmt.Fprintln(os.Stderr, "antrea-issuer diagnose:", err)
	}
	return diagnose.ExitCode(err)
}

// newDiagnoseOptions registers diagnose's flags on fs; the defaults are the Helm chart's.
func newDiagnoseOptions(fs *flag.FlagSet) *diagnose.Options {
	o := diagnose.DefaultOptions()
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "Path to a kubeconfig; defaults to $KUBECONFIG, ~/.kube/config, then the in-cluster configuration.")
	fs.StringVar(&o.Context, "context", "", "The kubeconfig context to use (default: its current context).")
	fs.StringVar(&o.Output, "o", o.Output, "Output format: text (one line per check) or json (for scripts).")
	fs.StringVar(&o.Output, "output", o.Output, "Same as -o.")
	fs.StringVar(&o.AntreaNamespace, "antrea-namespace", o.AntreaNamespace, "Namespace Antrea runs in (the chart's antrea.namespace).")
	fs.StringVar(&o.SecretName, "secret", o.SecretName, "Secret antrea-controller serves from (antrea.secretName).")
	fs.StringVar(&o.ConfigMapName, "configmap", o.ConfigMapName, "ConfigMap Antrea's agents read the CA from (antrea.configMapName).")
	fs.StringVar(&o.TargetSelector, "target-selector", o.TargetSelector, "Labels of Antrea's APIServices, webhook configurations and CRDs (antrea.targetSelector).")
	fs.StringVar(&o.ClusterDomain, "cluster-domain", o.ClusterDomain, "The cluster's DNS domain (clusterDomain): tls.crt must be valid for antrea.<ns>.svc.<cluster-domain>.")
	fs.StringVar(&o.IssuerNamespace, "issuer-namespace", o.IssuerNamespace, "Namespace antrea-issuer runs in (the Helm release namespace): its leader Lease.")
	fs.StringVar(&o.CertManagerNamespace, "cert-manager-namespace", o.CertManagerNamespace, "Namespace of cert-manager's controller ServiceAccount (certManager.serviceAccount.namespace).")
	fs.StringVar(&o.CertManagerServiceAccount, "cert-manager-service-account", o.CertManagerServiceAccount, "cert-manager's controller ServiceAccount, which must be allowed to approve (certManager.serviceAccount.name).")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: antrea-issuer diagnose [flags]\n\n"+
			"Reads antrea-issuer's installation with your credentials and prints one line per check: OK, or the\n"+
			"problem and its fix. Exit status: 0 every check passed, 1 a problem was found, 2 only warnings or\n"+
			"skipped checks, 3 diagnose could not run. It never reads a private key.\n\nChecks:\n")
		for _, c := range diagnose.Checks {
			fmt.Fprintf(w, "  %-21s %s\n", c.ID, c.Describe)
		}
		fmt.Fprintf(w, "\nFlags:\n")
		fs.PrintDefaults()
	}
	return &o
}
