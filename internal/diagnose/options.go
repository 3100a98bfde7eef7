package diagnose

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"antrea.io/antrea-issuer/issuer/cainject"
)

// Output formats.
const (
	OutputText = "text"
	OutputJSON = "json"
)

// Defaults are the Helm chart's defaults (charts/antrea-issuer/values.yaml) and cert-manager's.
const (
	DefaultIssuerNamespace           = "antrea-issuer"
	DefaultClusterDomain             = "cluster.local"
	DefaultCertManagerNamespace      = "cert-manager"
	DefaultCertManagerServiceAccount = "cert-manager"
	// LeaderElectionLease is the Lease antrea-issuer's replicas elect their leader with, in the
	// controller's namespace.
	LeaderElectionLease = "antrea-issuer-leader"
)

// Options are everything `antrea-issuer diagnose` takes.
type Options struct {
	// Kubeconfig and Context select the cluster and credentials; empty means $KUBECONFIG or
	// ~/.kube/config and its current context, then the in-cluster configuration.
	Kubeconfig string
	Context    string
	// Output is OutputText or OutputJSON.
	Output string

	AntreaNamespace string // Antrea's namespace (the chart's antrea.namespace)
	SecretName      string // Antrea's Secret (antrea.secretName)
	ConfigMapName   string // the CA ConfigMap agents read (antrea.configMapName)
	TargetSelector  string // labels of the APIServices, webhook configurations, CRDs (antrea.targetSelector)
	ClusterDomain   string // Antrea's second DNS name is antrea.<ns>.svc.<ClusterDomain>
	// IssuerNamespace is where antrea-issuer runs (the release namespace): its leader Lease.
	IssuerNamespace string

	// CertManagerNamespace and CertManagerServiceAccount are who must be allowed to approve
	// antrea-issuer's CertificateRequests (the chart's certManager.serviceAccount.*).
	CertManagerNamespace      string
	CertManagerServiceAccount string
}

// DefaultOptions are the chart's defaults.
func DefaultOptions() Options {
	return Options{
		Output:                    OutputText,
		AntreaNamespace:           cainject.DefaultNamespace,
		SecretName:                cainject.DefaultSecretName,
		ConfigMapName:             cainject.DefaultConfigMapName,
		TargetSelector:            cainject.DefaultTargetSelector,
		ClusterDomain:             DefaultClusterDomain,
		IssuerNamespace:           DefaultIssuerNamespace,
		CertManagerNamespace:      DefaultCertManagerNamespace,
		CertManagerServiceAccount: DefaultCertManagerServiceAccount,
	}
}

// Validate reports every invalid option.
func (o Options) Validate() error {
	var errs []error
	check := func(flag string, msgs []string) {
		for _, m := range msgs {
			errs = append(errs, fmt.Errorf("--%s: %s", flag, m))
		}
	}
	if o.Output != OutputText && o.Output != OutputJSON {
		errs = append(errs, fmt.Errorf("-o %q: want %s or %s", o.Output, OutputText, OutputJSON))
	}
	check("antrea-namespace", validation.IsDNS1123Label(o.AntreaNamespace))
	check("secret", validation.IsDNS1123Subdomain(o.SecretName))
	check("configmap", validation.IsDNS1123Subdomain(o.ConfigMapName))
	check("issuer-namespace", validation.IsDNS1123Label(o.IssuerNamespace))
	check("cluster-domain", validation.IsDNS1123Subdomain(o.ClusterDomain))
	check("cert-manager-namespace", validation.IsDNS1123Label(o.CertManagerNamespace))
	check("cert-manager-service-account", validation.IsDNS1123Subdomain(o.CertManagerServiceAccount))
	if sel, err := labels.Parse(o.TargetSelector); err != nil {
		errs = append(errs, fmt.Errorf("--target-selector: %w", err))
	} else if sel.Empty() {
		errs = append(errs, errors.New("--target-selector: must select something"))
	}
	return errors.Join(errs...)
}

// serverNames are the names Antrea's clients verify antrea-controller's certificate for.
func (o Options) serverNames() []string {
	svc := "antrea." + o.AntreaNamespace + ".svc"
	return []string{svc, svc + "." + o.ClusterDomain}
}

// certManagerUser is the user name cert-manager's controller authenticates as.
func (o Options) certManagerUser() string {
	return "system:serviceaccount:" + o.CertManagerNamespace + ":" + o.CertManagerServiceAccount
}
