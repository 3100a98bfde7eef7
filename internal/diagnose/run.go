package diagnose

import (
	"context"
	"fmt"
	"io"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Run reads the cluster o points at, runs every check and writes the report to out. It returns
// nil when every check passed, an *ExitError carrying the exit status when some did not (the
// report is written either way), and another error when it could not run at all.
func Run(ctx context.Context, o Options, out io.Writer) error {
	if err := o.Validate(); err != nil {
		return fmt.Errorf("invalid flags: %w", err)
	}
	cfg, err := restConfig(o)
	if err != nil {
		return err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating a client: %w", err)
	}
	if _, err := kube.Discovery().ServerVersion(); err != nil {
		return fmt.Errorf("reaching the API server %s: %w", cfg.Host, err)
	}
	scheme, err := newScheme()
	if err != nil {
		return err
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("creating a client: %w", err)
	}
	c := &Collector{Client: cl, Kube: kube, Options: o, Now: time.Now}
	report := NewReport(o, Evaluate(c.Collect(ctx), o))
	if o.Output == OutputJSON {
		err = report.WriteJSON(out)
	} else {
		err = report.WriteText(out)
	}
	if err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if report.ExitCode != ExitOK {
		return &ExitError{Code: report.ExitCode, Summary: report.Summary}
	}
	return nil
}

// restConfig loads --kubeconfig (else $KUBECONFIG, ~/.kube/config, then the in-cluster
// configuration) with --context.
func restConfig(o Options) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.Context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	// About 20 requests: client-go's default of 5 per second would only make them wait.
	cfg.QPS, cfg.Burst = 50, 100
	cfg.UserAgent = "antrea-issuer-diagnose"
	return cfg, nil
}

func newScheme() (*k8sruntime.Scheme, error) {
	s := k8sruntime.NewScheme()
	for _, add := range []func(*k8sruntime.Scheme) error{
		clientgoscheme.AddToScheme, cmapi.AddToScheme, apiregistrationv1.AddToScheme, apiextensionsv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("building the scheme: %w", err)
		}
	}
	return s, nil
}
