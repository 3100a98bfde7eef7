package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	issuerlibapi "github.com/cert-manager/issuer-lib/api/v1alpha1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/localcluster"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

// Security: least privilege proven with the controller's own credentials, issuers that must
// not reach other namespaces' Secrets, and CA keys that never leave their Secrets. The key
// hygiene test is last in this file, and this file sorts last: it reads what every test before
// it left in the logs, events, statuses and metrics.

// issuerClient is a client with exactly the credentials the antrea-issuer process runs with.
func issuerClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	needLocal(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", suite.local.Issuer.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.CertData)+len(cfg.KeyData) > 0 || cfg.CertFile != "" || cfg.Username != "" || cfg.BearerToken == "" {
		t.Fatalf("antrea-issuer's kubeconfig holds other credentials than a ServiceAccount token")
	}
	return kubernetes.NewForConfigOrDie(cfg)
}

// TestIssuerRunsAsItsServiceAccount: the process authenticates as the chart's ServiceAccount and
// nothing more (no admin group), so every other test here measures the chart's RBAC.
func TestIssuerRunsAsItsServiceAccount(t *testing.T) {
	ctx := testenv.Context(t)
	cs := issuerClient(t)
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u := review.Status.UserInfo
	if want := "system:serviceaccount:" + localcluster.IssuerNamespace + ":" + localcluster.IssuerServiceAccount; u.Username != want {
		t.Errorf("antrea-issuer authenticates as %q, want %q", u.Username, want)
	}
	for _, g := range u.Groups {
		if g == "system:masters" {
			t.Errorf("antrea-issuer is in system:masters")
		}
	}
}

// TestIssuerCannotReadSecretsOutsideItsNamespaces makes real requests with antrea-issuer's token:
// Secrets elsewhere are Forbidden (not merely absent), its own namespaces are readable.
func TestIssuerCannotReadSecretsOutsideItsNamespaces(t *testing.T) {
	ctx := testenv.Context(t)
	cs := issuerClient(t)
	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "e2e-victim"}, StringData: map[string]string{"password": "hunter2"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "e2e-victim"}, StringData: map[string]string{"password": "hunter2"}},
	} {
		if err := localcluster.Apply(ctx, suite.client, s); err != nil {
			t.Fatal(err)
		}
	}
	secrets := func(ns string) func() error {
		return func() error { _, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); return err }
	}
	get := func(ns, name string) func() error {
		return func() error { _, err := cs.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{}); return err }
	}
	tests := map[string]struct {
		do        func() error
		forbidden bool
	}{
		"get a Secret in default":                  {do: get("default", "e2e-victim"), forbidden: true},
		"get another Secret in Antrea's namespace": {do: get("kube-system", "e2e-victim"), forbidden: true},
		"list Secrets in Antrea's namespace":       {do: secrets("kube-system"), forbidden: true},
		"list Secrets in every namespace":          {do: secrets(""), forbidden: true},
		"list Secrets in default":                  {do: secrets("default"), forbidden: true},
		"watch Secrets in every namespace": {do: func() error {
			w, err := cs.CoreV1().Secrets("").Watch(ctx, metav1.ListOptions{})
			stopWatch(w)
			return err
		}, forbidden: true},
		"create a Secret in default": {do: func() error {
			_, err := cs.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
			return err
		}, forbidden: true},
		"delete a Secret in kube-system": {do: func() error {
			return cs.CoreV1().Secrets("kube-system").Delete(ctx, "e2e-victim", metav1.DeleteOptions{})
		}, forbidden: true},
		"list Secrets in its own namespace (CA Secrets)": {do: secrets(localcluster.IssuerNamespace)},
		"list Secrets in a CA Secret namespace":          {do: secrets(teamNamespace)},
		"get Antrea's certificate Secret (CA bundle sync)": {do: func() error {
			err := get("kube-system", "antrea-controller-tls")()
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.do()
			switch {
			case tc.forbidden && !apierrors.IsForbidden(err):
				t.Errorf("err = %v, want Forbidden", err)
			case !tc.forbidden && err != nil:
				t.Errorf("err = %v, want allowed", err)
			}
		})
	}
}

func stopWatch(w interface{ Stop() }) {
	if w != nil {
		w.Stop()
	}
}

// TestNamespacedIssuerCannotUseAnotherNamespacesSecret, with the real binary and RBAC: an
// AntreaIssuer naming a CA Secret that exists only in another namespace finds nothing, an
// AntreaIssuer outside the CA Secret namespaces cannot use a Secret next to it, and a
// namespace cannot be smuggled into secretName.
func TestNamespacedIssuerCannotUseAnotherNamespacesSecret(t *testing.T) {
	ctx := testenv.Context(t)
	needLocal(t)
	// A valid CA in the controller's namespace: the most valuable Secret to point at.
	victimIssuer := createReadyClusterIssuer(ctx, t, "e2e-victim")
	victim := theCASecret(ctx, t, "AntreaClusterIssuer/"+victimIssuer.Name)
	ensureNamespace(ctx, t, "e2e-outsider")
	if err := localcluster.Apply(ctx, suite.client, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "e2e-outsider", Name: "local-ca"},
		Data:       map[string][]byte{"tls.crt": victim.Data["tls.crt"], "tls.key": victim.Data["tls.key"]},
	}); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		ns, secretName, want string
	}{
		"team issuer naming the controller's CA Secret": {ns: teamNamespace, secretName: victim.Name, want: "CA Secret not found: " + teamNamespace + "/" + victim.Name},
		"issuer outside the CA Secret namespaces":       {ns: "e2e-outsider", secretName: "local-ca", want: "--ca-secret-namespaces"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			iss := &v1alpha1.AntreaIssuer{
				ObjectMeta: metav1.ObjectMeta{Namespace: tc.ns, GenerateName: "pointer-"},
				Spec:       v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Provided: &v1alpha1.ProvidedCA{SecretName: tc.secretName}}},
			}
			if err := suite.client.Create(ctx, iss); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = suite.client.Delete(context.Background(), iss) })
			testenv.Eventually(t, 30*time.Second, "the issuer not Ready, saying why", func() error {
				if err := suite.client.Get(ctx, client.ObjectKeyFromObject(iss), iss); err != nil {
					return err
				}
				c := meta.FindStatusCondition(iss.Status.Conditions, issuerlibapi.IssuerConditionTypeReady)
				if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, tc.want) {
					return fmt.Errorf("conditions %+v", iss.Status.Conditions)
				}
				return nil
			})
			cr, _ := newAntreaCR(t, tc.ns, "pointer-"+iss.Name, cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: "AntreaIssuer", Name: iss.Name})
			if err := suite.client.Create(ctx, cr); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = suite.client.Delete(context.Background(), cr) })
			testenv.Eventually(t, 30*time.Second, "the request waiting for its issuer", func() error {
				if err := suite.client.Get(ctx, client.ObjectKeyFromObject(cr), cr); err != nil {
					return err
				}
				for _, c := range cr.Status.Conditions {
					if c.Type == cmapi.CertificateRequestConditionReady && c.Reason == cmapi.CertificateRequestReasonPending {
						return nil
					}
				}
				return fmt.Errorf("conditions %+v", cr.Status.Conditions)
			})
			if len(cr.Status.Certificate) != 0 {
				t.Fatal("signed with another namespace's CA")
			}
		})
	}
	t.Run("a namespace in secretName is rejected", func(t *testing.T) {
		for _, name := range []string{localcluster.IssuerNamespace + "/" + victim.Name, "../" + victim.Name} {
			iss := &v1alpha1.AntreaIssuer{
				ObjectMeta: metav1.ObjectMeta{Namespace: teamNamespace, GenerateName: "smuggler-"},
				Spec:       v1alpha1.IssuerSpec{CA: v1alpha1.CASpec{Provided: &v1alpha1.ProvidedCA{SecretName: name}}},
			}
			if err := suite.client.Create(ctx, iss); !apierrors.IsInvalid(err) {
				t.Errorf("secretName %q: err = %v, want Invalid", name, err)
			}
		}
	})
}

// TestCASecretsWrittenOnlyAtCreationOrRotation looks at every CA Secret antrea-issuer generated
// during the whole run (restarts, kills, outages, two replicas, thousands of signings): each was
// written once, at creation, unless a CA rotation (which leaves its phase annotation) wrote it.
func TestCASecretsWrittenOnlyAtCreationOrRotation(t *testing.T) {
	ctx := testenv.Context(t)
	createReadyClusterIssuer(ctx, t, "e2e-immutable") // at least one, when run alone
	var list corev1.SecretList
	if err := suite.client.List(ctx, &list, client.MatchingLabels{issuer.LabelCASecret: "true"}); err != nil {
		t.Fatal(err)
	}
	untouched, rotated := 0, 0
	for _, s := range list.Items {
		if _, ok := s.Annotations[v1alpha1.GroupName+"/phase-since"]; ok {
			rotated++
			continue
		}
		untouched++
		for _, mf := range s.ManagedFields {
			if mf.Time == nil || !mf.Time.Equal(&s.CreationTimestamp) || mf.Manager != "antrea-issuer" {
				t.Errorf("CA Secret %s/%s created %s was written later: %s %s at %s", s.Namespace, s.Name, s.CreationTimestamp, mf.Manager, mf.Operation, mf.Time)
			}
		}
	}
	t.Logf("FIGURES immutability: %d CA Secrets never written after creation, %d written by a rotation", untouched, rotated)
}

// TestCAKeyNeverLeaks is the key hygiene test: with a last round of CA generation, signing and
// refusals at debug log level, no CA private key material appears in any antrea-issuer log, any
// Event, any issuer, CertificateRequest, Certificate, ConfigMap or APIService, or /metrics.
func TestCAKeyNeverLeaks(t *testing.T) {
	ctx := testenv.Context(t)
	needLocal(t)
	proc := suite.local.Issuer
	args, metricsAddr := proc.Args, proc.MetricsBindAddress
	restart := func() {
		if err := proc.Stop(false); err != nil {
			t.Fatal(err)
		}
		if err := proc.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	proc.Args, proc.MetricsBindAddress = append(append([]string{}, args...), "--zap-log-level=debug"), "127.0.0.1:0"
	restart()
	t.Cleanup(func() {
		proc.Args, proc.MetricsBindAddress = args, metricsAddr
		restart()
	})

	// A last full round at debug level: a new CA, certificates, refusals.
	const ns = "e2e-hygiene"
	ensureNamespace(ctx, t, ns)
	iss := createReadyClusterIssuer(ctx, t, "e2e-hygiene")
	watch := watchRequests(ctx, t, ns)
	t.Cleanup(func() { deleteRequests(ns) })
	reqs := createRequests(ctx, t, ns, "ok", 5, clusterRef(iss.Name))
	refused, _ := newAntreaCR(t, ns, "refused", clusterRef(iss.Name))
	refused.Spec.Usages = append(refused.Spec.Usages, cmapi.UsageClientAuth)
	if err := suite.client.Create(ctx, refused); err != nil {
		t.Fatal(err)
	}
	watch.waitAllReady(t, len(reqs), time.Minute)
	metrics, err := proc.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(metrics, "antrea_issuer_") {
		t.Fatalf("/metrics has no antrea_issuer metric:\n%.2000s", metrics)
	}

	needles := caKeyNeedles(ctx, t)
	if len(needles.keys) == 0 {
		t.Fatal("no CA key found to look for")
	}
	// The detector finds a key where it is (the Secret, in the forms a leak would take).
	for _, s := range needles.secrets {
		js, _ := json.Marshal(s)
		if needles.find(string(js)) == "" || needles.find(string(s.Data["tls.key"])) == "" {
			t.Fatalf("the detector does not find %s/%s's key in the Secret itself", s.Namespace, s.Name)
		}
	}

	haystacks := map[string]string{"metrics": metrics}
	suiteLog, err := os.ReadFile(suite.logPath)
	if err != nil {
		t.Fatal(err)
	}
	logs := allExtraLogs(t)
	logs[suite.logPath] = string(suiteLog)
	for p, content := range logs {
		haystacks["log "+p] = content
	}
	for name, l := range map[string]client.ObjectList{
		"Events":               &corev1.EventList{},
		"events.k8s.io Events": &eventsv1.EventList{},
		"AntreaClusterIssuers": &v1alpha1.AntreaClusterIssuerList{},
		"AntreaIssuers":        &v1alpha1.AntreaIssuerList{},
		"CertificateRequests":  &cmapi.CertificateRequestList{},
		"Certificates":         &cmapi.CertificateList{},
		"ConfigMaps":           &corev1.ConfigMapList{},
		"APIServices":          &apiregistrationv1.APIServiceList{},
	} {
		if err := suite.client.List(ctx, l); err != nil {
			t.Fatal(err)
		}
		js, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		haystacks[name] = string(js)
	}
	total := 0
	for where, text := range haystacks {
		total += len(text)
		if n := needles.find(text); n != "" {
			t.Errorf("CA key material (%s) found in %s", n, where)
		}
	}
	if len(haystacks["log "+suite.logPath]) == 0 || len(haystacks["Events"]) < 1000 {
		t.Fatalf("nothing to search: the logs or events are empty")
	}
	t.Logf("FIGURES key hygiene: %d CA keys (%d search strings) looked for in %d logs, every Event, issuer, CertificateRequest, Certificate, ConfigMap and APIService, and /metrics: %.1f MB, no match",
		len(needles.keys), len(needles.set), len(logs), float64(total)/1e6)
}

// keyNeedles are fixed-length strings that only a CA key's material contains, in every encoding
// a leak would use: PEM lines, base64 of the DER and of the PEM file (a Secret's JSON), hex, and
// the private scalar itself.
type keyNeedles struct {
	keys    []string // Secret/key names
	secrets []corev1.Secret
	set     map[string]string // needle -> what it is
}

const needleLen = 24 // 24 base64 characters are 144 bits

func (n *keyNeedles) add(what, s string, skip int) {
	for i := skip; i+needleLen <= len(s); i += needleLen / 2 {
		n.set[s[i:i+needleLen]] = what
	}
}

// find returns what the first needle found in text is, or "".
func (n *keyNeedles) find(text string) string {
	for i := 0; i+needleLen <= len(text); i++ {
		if what, ok := n.set[text[i:i+needleLen]]; ok {
			return what
		}
	}
	return ""
}

// caKeyNeedles collects the keys of every CA Secret: those antrea-issuer generated and those
// issuers name as provided.
func caKeyNeedles(ctx context.Context, t *testing.T) *keyNeedles {
	t.Helper()
	n := &keyNeedles{set: map[string]string{}}
	var generated corev1.SecretList
	if err := suite.client.List(ctx, &generated, client.MatchingLabels{issuer.LabelCASecret: "true"}); err != nil {
		t.Fatal(err)
	}
	secrets := generated.Items
	var cis v1alpha1.AntreaClusterIssuerList
	var nis v1alpha1.AntreaIssuerList
	if err := suite.client.List(ctx, &cis); err != nil {
		t.Fatal(err)
	}
	if err := suite.client.List(ctx, &nis); err != nil {
		t.Fatal(err)
	}
	provided := map[client.ObjectKey]bool{}
	for _, i := range cis.Items {
		if p := i.Spec.CA.Provided; p != nil {
			provided[client.ObjectKey{Namespace: localcluster.IssuerNamespace, Name: p.SecretName}] = true
		}
	}
	for _, i := range nis.Items {
		if p := i.Spec.CA.Provided; p != nil {
			provided[client.ObjectKey{Namespace: i.Namespace, Name: p.SecretName}] = true
		}
	}
	for key := range provided {
		s := corev1.Secret{}
		if err := suite.client.Get(ctx, key, &s); err == nil {
			secrets = append(secrets, s)
		}
	}
	for _, s := range secrets {
		for _, k := range []string{"tls.key", "next.tls.key"} {
			if len(s.Data[k]) == 0 {
				continue
			}
			what := s.Namespace + "/" + s.Name + "[" + k + "]"
			n.keys = append(n.keys, what)
			n.addKey(t, what, s.Data[k])
		}
		n.secrets = append(n.secrets, s)
	}
	return n
}

func (n *keyNeedles) addKey(t *testing.T, what string, keyPEM []byte) {
	t.Helper()
	for rest := keyPEM; ; {
		var b *pem.Block
		blockStart := len(keyPEM) - len(rest)
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		der := b.Bytes
		secret, from, to := privatePart(t, what, der)
		// The private part itself.
		for _, enc := range []string{hex.EncodeToString(secret), strings.ToUpper(hex.EncodeToString(secret)),
			base64.StdEncoding.EncodeToString(secret), base64.RawURLEncoding.EncodeToString(secret)} {
			n.add(what+" private part", enc, 0)
		}
		if k, ok := parseKey(der).(*ecdsa.PrivateKey); ok {
			n.add(what+" private scalar in decimal", k.D.String(), 0)
		}
		// The DER in base64 and hex: only windows made of private bytes (an EC key's DER also holds
		// its public key, which the CA certificate publishes).
		isSecretByte := func(i int) bool { return i >= from && i < to }
		n.addWindows(what+" as base64 of the DER", base64.StdEncoding.EncodeToString(der), 4, 3, isSecretByte)
		n.addWindows(what+" as URL-safe base64 of the DER", base64.RawURLEncoding.EncodeToString(der), 4, 3, isSecretByte)
		n.addWindows(what+" as hex of the DER", hex.EncodeToString(der), 2, 1, isSecretByte)
		// The PEM text (a key printed in a log) and base64 of the PEM file (the Secret's data in
		// JSON): the same, over the file's characters that encode private bytes.
		secretChar := pemSecretChars(keyPEM[blockStart:], der, from, to)
		isSecretChar := func(i int) bool { return secretChar[i] }
		n.addWindows(what+" as PEM text", string(keyPEM[blockStart:]), 1, 1, isSecretChar)
		n.addWindows(what+" as base64 of the PEM file", base64.StdEncoding.EncodeToString(keyPEM[blockStart:]), 4, 3, isSecretChar)
	}
}

// addWindows adds the needleLen-long windows of an encoding whose source units (bytes or
// characters) are all private: each group of perChars characters encodes perUnits units.
func (n *keyNeedles) addWindows(what, encoded string, perChars, perUnits int, private func(int) bool) {
	for i := 0; i+needleLen <= len(encoded); i += perChars {
		first, last := i/perChars*perUnits, (i+needleLen)/perChars*perUnits
		ok := true
		for u := first; u < last && ok; u++ {
			ok = private(u)
		}
		if ok {
			n.set[encoded[i:i+needleLen]] = what
		}
	}
}

// privatePart returns a key DER's private value and where it lies in the DER: an EC scalar or an
// Ed25519 seed, or, for RSA, everything from the private exponent on.
func privatePart(t *testing.T, what string, der []byte) (secret []byte, from, to int) {
	t.Helper()
	switch k := parseKey(der).(type) {
	case *ecdsa.PrivateKey:
		secret, _ = k.Bytes()
	case ed25519.PrivateKey:
		secret = k.Seed()
	case *rsa.PrivateKey:
		secret = k.D.Bytes()
		from = bytes.Index(der, secret)
		return secret, from, len(der)
	default:
		t.Fatalf("%s: unexpected key type %T", what, k)
	}
	from = bytes.Index(der, secret)
	if from < 0 {
		t.Fatalf("%s: the private value is not in the DER", what)
	}
	return secret, from, from + len(secret)
}

func parseKey(der []byte) any {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k
	}
	return nil
}

// pemSecretChars marks the characters of a PEM block's text (as stored) that encode private
// bytes of der: base64 character c of the body depends on bits 6c to 6c+5 of the DER.
func pemSecretChars(text, der []byte, from, to int) map[int]bool {
	out := map[int]bool{}
	body := base64.StdEncoding.EncodeToString(der)
	start := bytes.IndexByte(text, '\n') + 1 // after "-----BEGIN ... KEY-----"
	pos := start
	for c := 0; c < len(body) && pos < len(text); c++ {
		for pos < len(text) && (text[pos] == '\n' || text[pos] == '\r') {
			pos++
		}
		if pos >= len(text) || text[pos] != body[c] {
			return map[int]bool{} // not the standard layout: no needles from the text
		}
		if lo, hi := 6*c/8, (6*c+5)/8; lo >= from && hi < to {
			out[pos] = true
		}
		pos++
	}
	return out
}
