package diagnose

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"

	"antrea.io/antrea-issuer/issuer/cainject"
)

// Check ids of Antrea's mode and CA bundles.
const (
	CheckMode       = "antrea-mode"
	CheckConfigMap  = "antrea-ca"
	CheckBundle     = "ca-bundle"
	CheckAPIService = "apiservice-available"
)

// selfSignedCAPrefix is the common name prefix of the CA Antrea generates with
// selfSignedCert: true (antrea-ca@<unix time>).
const selfSignedCAPrefix = "antrea-ca@"

// target is one labelled object routed to antrea-controller in Antrea's namespace, with the CA
// bundles it holds.
type target struct {
	ref   string // "<Kind>/<name>"
	slots []slot
}

type slot struct {
	webhook string // the webhook's name in a webhook configuration, else ""
	bundle  []byte
}

// antreaTargets are the labelled objects whose Service is in Antrea's namespace (the CA bundle
// sync writes every labelled object; those routed elsewhere are not Antrea's in this namespace),
// in a stable order: APIServices, mutating and validating webhook configurations (only their
// webhooks routed to Antrea), CRDs with a conversion webhook.
func antreaTargets(s *State, o Options) []target {
	var out []target
	ns := o.AntreaNamespace
	for _, as := range s.APIServices {
		if as.Spec.Service != nil && as.Spec.Service.Namespace == ns {
			out = append(out, target{ref: "APIService/" + as.Name, slots: []slot{{bundle: as.Spec.CABundle}}})
		}
	}
	for _, c := range s.Mutating {
		t := target{ref: "MutatingWebhookConfiguration/" + c.Name}
		for _, w := range c.Webhooks {
			if svc := w.ClientConfig.Service; svc != nil && svc.Namespace == ns {
				t.slots = append(t.slots, slot{webhook: w.Name, bundle: w.ClientConfig.CABundle})
			}
		}
		if len(t.slots) > 0 {
			out = append(out, t)
		}
	}
	for _, c := range s.Validating {
		t := target{ref: "ValidatingWebhookConfiguration/" + c.Name}
		for _, w := range c.Webhooks {
			if svc := w.ClientConfig.Service; svc != nil && svc.Namespace == ns {
				t.slots = append(t.slots, slot{webhook: w.Name, bundle: w.ClientConfig.CABundle})
			}
		}
		if len(t.slots) > 0 {
			out = append(out, t)
		}
	}
	for _, crd := range s.CRDs {
		cv := crd.Spec.Conversion
		if cv == nil || cv.Webhook == nil || cv.Webhook.ClientConfig == nil {
			continue
		}
		if svc := cv.Webhook.ClientConfig.Service; svc != nil && svc.Namespace == ns {
			out = append(out, target{ref: "CustomResourceDefinition/" + crd.Name, slots: []slot{{bundle: cv.Webhook.ClientConfig.CABundle}}})
		}
	}
	return out
}

// describeBundle identifies a CA bundle without quoting it: fingerprint and common names.
func describeBundle(b []byte) string {
	if len(b) == 0 {
		return "empty"
	}
	certs, err := parseCerts(b)
	if err != nil {
		return fmt.Sprintf("%s (no certificate: %v)", fingerprint(b), err)
	}
	var cns []string
	for _, c := range certs {
		cns = append(cns, fmt.Sprintf("%q", c.Subject.CommonName))
	}
	return fmt.Sprintf("%s (%s)", fingerprint(b), strings.Join(cns, ", "))
}

// trust is how a target's bundle compares with the Secret's ca.crt.
type trust int

const (
	trustDiffers trust = iota
	// trustEqual: the same bytes.
	trustEqual
	// trustEquivalent: the same CAs, in the same order, plus leaves they signed: what Antrea
	// publishes with selfSignedCert: true once it adopted the Secret (the served tls.crt
	// verbatim). It trusts exactly ca.crt, so the CA bundle sync leaves it (cainject
	// Bundle.Equivalent), and so does this check; antrea-mode warns about the mode.
	trustEquivalent
)

// compareBundle compares a target's bundle with the Secret's ca.crt as the CA bundle sync does.
func compareBundle(s *State, target []byte) trust {
	if s.Secret == nil || len(s.Secret.CA) == 0 {
		return trustDiffers
	}
	if bytes.Equal(target, s.Secret.CA) {
		return trustEqual
	}
	want, err := cainject.DesiredBundle(sourceSecret(s.Secret), keyCA)
	if err == nil && want.Equivalent(target) {
		return trustEquivalent
	}
	return trustDiffers
}

// sourceSecret is the Secret as the CA bundle sync sees it (it never holds tls.key either).
func sourceSecret(sec *AntreaSecret) *corev1.Secret {
	data := map[string][]byte{}
	if len(sec.CA) > 0 {
		data[keyCA] = sec.CA
	}
	if len(sec.TLS) > 0 {
		data[keyTLS] = sec.TLS
	}
	return &corev1.Secret{Data: data}
}

const equivalentNote = "its CAs plus a leaf they signed, the bundle Antrea publishes with selfSignedCert: true (see the antrea-mode line)"

// holdsSelfSignedCA reports the common name of Antrea's own self-signed CA in a bundle, if any.
func holdsSelfSignedCA(b []byte) string {
	certs, err := parseCerts(b)
	if err != nil {
		return ""
	}
	for _, c := range certs {
		for _, cn := range []string{c.Subject.CommonName, c.Issuer.CommonName} {
			if strings.HasPrefix(cn, selfSignedCAPrefix) {
				return cn
			}
		}
	}
	return ""
}

// modeFix is the fix for Antrea's self-signed mode; reissue when the Secret must be re-issued
// (Antrea rewrote it) rather than only read again.
func modeFix(reissue bool) string {
	then := "it then publishes ca.crt itself"
	if reissue {
		then = "cert-manager then re-issues the Secret (cmctl renew, if it does not by itself)"
	}
	return fmt.Sprintf("set selfSignedCert: false in antrea-controller.conf (Helm value controller.selfSignedCert=false) and restart antrea-controller; %s (%s, %s)",
		then, docAntreaSide, docTakeover)
}

// checkMode: Antrea runs with selfSignedCert: false. Its self-signed mode shows as the Secret
// shapes the CA bundle sync refuses (cainject.DesiredBundle: tls.crt without ca.crt, tls.crt not
// chaining to ca.crt, an issuer antrea-ca@<unix>), and as targets holding what that mode
// publishes: the served tls.crt verbatim, or Antrea's own CA.
func checkMode(s *State, o Options) []Result {
	obj := "Secret/" + o.AntreaNamespace + "/" + o.SecretName
	if s.SecretErr != nil {
		return []Result{unreadable(CheckMode, obj, "Antrea's Secret", s.SecretErr)}
	}
	if s.Secret == nil {
		return []Result{skipped(CheckMode, obj, "no Secret to judge (see the secret-keys line)")}
	}
	_, err := cainject.DesiredBundle(sourceSecret(s.Secret), keyCA)
	if se, isSource := errors.AsType[*cainject.SourceError](err); isSource {
		switch {
		case se.Takeover:
			return []Result{problem(CheckMode, StatusError, obj, modeFix(true),
				"Antrea's selfSignedCert: true shape (%s): %s", se.Reason, se.Message)}
		case se.Waiting:
			return []Result{skipped(CheckMode, obj, "nothing to judge yet (%s): %s", se.Reason, se.Message)}
		default:
			return []Result{problem(CheckMode, StatusError, obj,
				"let cert-manager re-issue the Secret (cmctl renew); the CA bundle sync publishes nothing from it meanwhile ("+docTakeover+")",
				"the CA bundle sync refuses this Secret (%s): %s", se.Reason, se.Message)}
		}
	} else if err != nil {
		return []Result{problem(CheckMode, StatusError, obj, "", "%v", err)}
	}

	// What antrea-controller publishes in its self-signed mode: the served tls.crt verbatim once
	// it adopted the Secret (a bundle holding a leaf), or its own CA.
	var verbatim, ownCA []string
	look := func(ref string, b []byte) {
		if len(b) == 0 {
			return
		}
		switch {
		case len(s.Secret.TLS) > 0 && bytes.Equal(b, s.Secret.TLS) && !bytes.Equal(b, s.Secret.CA),
			compareBundle(s, b) == trustEquivalent:
			verbatim = append(verbatim, ref)
		case holdsSelfSignedCA(b) != "":
			ownCA = append(ownCA, fmt.Sprintf("%s (%q)", ref, holdsSelfSignedCA(b)))
		}
	}
	if s.ConfigMap != nil {
		look("ConfigMap/"+o.AntreaNamespace+"/"+o.ConfigMapName, []byte(s.ConfigMap.Data[cainject.ConfigMapKey]))
	}
	for _, t := range antreaTargets(s, o) {
		for _, sl := range t.slots {
			ref := t.ref
			if sl.webhook != "" {
				ref += " webhook " + sl.webhook
			}
			look(ref, sl.bundle)
		}
	}
	if len(ownCA) > 0 {
		return []Result{problem(CheckMode, StatusError, obj, modeFix(true),
			"Antrea's own self-signed CA is in %s: antrea-controller runs with selfSignedCert: true", strings.Join(ownCA, ", "))}
	}
	if len(verbatim) > 0 {
		return []Result{problem(CheckMode, StatusWarning, obj, modeFix(false),
			"the served tls.crt (a leaf besides ca.crt's CAs) is in %s: Antrea publishes that with selfSignedCert: true, having adopted cert-manager's certificate. "+
				"Clients trust it, but Antrea rewrites the Secret with its own CA whenever fewer than 90 days remain, so a Certificate renewed later than that makes them fight",
			strings.Join(verbatim, ", "))}
	}
	return []Result{ok(CheckMode, obj, "cert-manager's shape (tls.crt chains to ca.crt) and no target holds Antrea's self-signed bundle: Antrea runs with selfSignedCert: false, as far as its objects show")}
}

func syncFix(o Options) string {
	return fmt.Sprintf("antrea-issuer's CA bundle sync rewrites it within a second: check that it runs (the controller line) and read the events on the Secret "+
		"(kubectl -n %s get events --field-selector involvedObject.name=%s; docs/cainject.md)", o.AntreaNamespace, o.SecretName)
}

// checkConfigMap: antrea-ca holds exactly the Secret's ca.crt.
func checkConfigMap(s *State, o Options) []Result {
	obj := "ConfigMap/" + o.AntreaNamespace + "/" + o.ConfigMapName
	if s.ConfigMapErr != nil {
		return []Result{unreadable(CheckConfigMap, obj, "the CA ConfigMap", s.ConfigMapErr)}
	}
	if s.ConfigMap == nil {
		return []Result{problem(CheckConfigMap, StatusError, obj, syncFix(o),
			"does not exist: antrea-agents cannot verify antrea-controller (Antrea #3167)")}
	}
	if s.Secret == nil || len(s.Secret.CA) == 0 {
		return []Result{skipped(CheckConfigMap, obj, "no ca.crt to compare it with (see the secret-keys line)")}
	}
	got := []byte(s.ConfigMap.Data[cainject.ConfigMapKey])
	switch compareBundle(s, got) {
	case trustEqual:
		return []Result{ok(CheckConfigMap, obj, "ca.crt equals the Secret's ca.crt, %s", describeBundle(got))}
	case trustEquivalent:
		return []Result{ok(CheckConfigMap, obj, "ca.crt trusts exactly the Secret's ca.crt: %s", equivalentNote)}
	}
	return []Result{problem(CheckConfigMap, StatusError, obj, syncFix(o),
		"ca.crt is %s, the Secret's ca.crt is %s: agents and antctl trust another CA than the one signing antrea-controller's certificate",
		describeBundle(got), describeBundle(s.Secret.CA))}
}

// checkBundles: every labelled APIService, webhook and conversion CRD routed to Antrea carries
// the Secret's ca.crt.
func checkBundles(s *State, o Options) []Result {
	var out []Result
	for _, r := range []struct {
		what string
		err  error
	}{
		{"APIServices", s.APIServicesErr}, {"MutatingWebhookConfigurations", s.MutatingErr},
		{"ValidatingWebhookConfigurations", s.ValidatingErr}, {"CustomResourceDefinitions", s.CRDsErr},
	} {
		if r.err != nil {
			out = append(out, unreadable(CheckBundle, "", r.what+" labelled "+o.TargetSelector, r.err))
		}
	}
	targets := antreaTargets(s, o)
	if len(targets) == 0 {
		if len(out) == 0 {
			out = append(out, problem(CheckBundle, StatusWarning, "",
				"is Antrea installed in namespace "+o.AntreaNamespace+"? (--antrea-namespace, --target-selector)",
				"no APIService, webhook configuration or CRD labelled %s is routed to a Service in namespace %s", o.TargetSelector, o.AntreaNamespace))
		}
		return out
	}
	if s.Secret == nil || len(s.Secret.CA) == 0 {
		return append(out, skipped(CheckBundle, "", "no ca.crt to compare %d targets with (see the secret-keys line)", len(targets)))
	}
	for _, t := range targets {
		var differ []string
		equivalent := 0
		for _, sl := range t.slots {
			switch compareBundle(s, sl.bundle) {
			case trustEqual:
				continue
			case trustEquivalent:
				equivalent++
				continue
			}
			if sl.webhook != "" {
				differ = append(differ, fmt.Sprintf("webhook %s holds %s", sl.webhook, describeBundle(sl.bundle)))
			} else {
				differ = append(differ, "caBundle is "+describeBundle(sl.bundle))
			}
		}
		if len(differ) == 0 {
			what := "caBundle equals"
			switch {
			case t.slots[0].webhook == "":
			case len(t.slots) == 1:
				what = "the caBundle of its webhook equals"
			default:
				what = fmt.Sprintf("the caBundle of each of its %d webhooks equals", len(t.slots))
			}
			if equivalent > 0 {
				out = append(out, ok(CheckBundle, t.ref, "%s trusts exactly the Secret's ca.crt: %s", strings.Replace(what, " equals", "", 1), equivalentNote))
				continue
			}
			out = append(out, ok(CheckBundle, t.ref, "%s the Secret's ca.crt", what))
			continue
		}
		out = append(out, problem(CheckBundle, StatusError, t.ref, syncFix(o),
			"%s; the Secret's ca.crt is %s: kube-apiserver does not trust antrea-controller through it",
			strings.Join(differ, "; "), describeBundle(s.Secret.CA)))
	}
	return out
}

// checkAPIServices: each of Antrea's APIServices is Available: the aggregator's own TLS check
// of the live antrea-controller with the caBundle it holds.
func checkAPIServices(s *State, o Options) []Result {
	if s.APIServicesErr != nil {
		return []Result{unreadable(CheckAPIService, "", "APIServices labelled "+o.TargetSelector, s.APIServicesErr)}
	}
	var out []Result
	for _, as := range s.APIServices {
		if as.Spec.Service == nil || as.Spec.Service.Namespace != o.AntreaNamespace {
			continue
		}
		obj := "APIService/" + as.Name
		var cond *apiregistrationv1.APIServiceCondition
		for i := range as.Status.Conditions {
			if as.Status.Conditions[i].Type == apiregistrationv1.Available {
				cond = &as.Status.Conditions[i]
			}
		}
		switch {
		case cond == nil:
			out = append(out, problem(CheckAPIService, StatusWarning, obj, "wait a few seconds; kube-apiserver's aggregator has not checked it yet",
				"no Available condition yet"))
		case cond.Status == apiregistrationv1.ConditionTrue:
			out = append(out, ok(CheckAPIService, obj, "Available: kube-apiserver reaches antrea-controller and trusts its certificate"))
		default:
			fix := fmt.Sprintf("is antrea-controller running and reachable? kubectl -n %s get pods,endpointslices -l app=antrea", o.AntreaNamespace)
			if strings.Contains(cond.Message, "x509") || strings.Contains(cond.Message, "certificate") {
				fix = "kube-apiserver does not trust the certificate antrea-controller serves: if this APIService's ca-bundle line differs, see that line; " +
					"if it equals ca.crt, antrea-controller serves a certificate ca.crt did not sign (not reloaded yet: it reloads within about 2 minutes; or selfSignedCert: true: see the antrea-mode line)"
			}
			out = append(out, problem(CheckAPIService, StatusError, obj, fix, "Available=%s (%s): %s", cond.Status, cond.Reason, cond.Message))
		}
	}
	return out
}
