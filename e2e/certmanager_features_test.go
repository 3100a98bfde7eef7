package e2e

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

// featuresNamespace holds the Certificates of TestCertManagerFeatures.
const featuresNamespace = "cm-features"

// permissivePolicy allows everything an AntreaClusterIssuer's policy can allow: names under
// example.com (one, two or three labels deep), any single-label common name, IP addresses, every
// usage the CRD names, lifetimes from 1 hour to 10 years. What it still refuses, no policy allows.
func permissivePolicy() v1alpha1.PolicySpec {
	usages := []v1alpha1.KeyUsage{"signing", "digital signature", "content commitment", "key encipherment",
		"key agreement", "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any",
		"server auth", "client auth", "code signing", "email protection", "s/mime", "ipsec end system",
		"ipsec tunnel", "ipsec user", "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc"}
	return v1alpha1.PolicySpec{
		DNSNames:         []string{"*.example.com", "*.*.example.com", "*.*.*.example.com"},
		CommonNames:      []string{"*", "*.example.com", "*.*.example.com", "*.*.*.example.com"},
		AllowIPAddresses: true,
		Usages:           usages,
		MinDuration:      "1h",
		MaxDuration:      "87600h",
	}
}

// featureRow is one cert-manager Certificate feature: the Certificate that uses it, and either
// what the issued certificate must show or the refusal it must get.
type featureRow struct {
	spec func(*cmapi.CertificateSpec)
	// refused lists what the refusal message must name; empty means the Certificate is issued.
	refused []string
	// check adds checks of the issued leaf to checkIssued's.
	check func(t *testing.T, crt *cmapi.Certificate, leaf *x509.Certificate, s *corev1.Secret)
	// reissue, when set, makes cert-manager issue the Certificate again after the first
	// issuance, and checks the second certificate against the first.
	reissue *reissueStep
	// cutToCA: the requested lifetime outlives the CA, so the leaf ends with the CA.
	cutToCA bool
}

type reissueStep struct {
	// trigger starts the re-issuance.
	trigger func(ctx context.Context, t *testing.T, crt *cmapi.Certificate)
	check   func(t *testing.T, first, second *x509.Certificate)
}

// TestCertManagerFeatures walks cert-manager's Certificate features one by one through the real
// cert-manager controllers and a permissive AntreaClusterIssuer. Each row is a Certificate: it is
// issued, and the leaf shows the feature, or it is refused by design with a message naming what.
func TestCertManagerFeatures(t *testing.T) {
	ctx := testenv.Context(t)
	if suite.local != nil {
		// cert-manager's controllers run in this process: literalSubject and otherNames reach the
		// CSR only with these gates on (Beta, on by default in cert-manager v1.21).
		if !utilfeature.DefaultFeatureGate.Enabled("LiteralCertificateSubject") || !utilfeature.DefaultFeatureGate.Enabled("OtherNames") {
			t.Fatal("cert-manager's feature gates LiteralCertificateSubject and OtherNames must be on in the in-process controllers")
		}
	}
	ensureNamespace(ctx, t, featuresNamespace)
	iss := &v1alpha1.AntreaClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: "permissive"},
		Spec:       v1alpha1.IssuerSpec{Policy: permissivePolicy()},
	}
	if err := suite.client.Create(ctx, iss); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = suite.client.Delete(context.Background(), iss) })
	waitIssuerReady(ctx, t, iss, 60*time.Second)
	ref := cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: "AntreaClusterIssuer", Name: iss.Name}

	dns := func(names ...string) func(*cmapi.CertificateSpec) {
		return func(s *cmapi.CertificateSpec) { s.DNSNames = names }
	}
	withKey := func(alg cmapi.PrivateKeyAlgorithm, size int) func(*cmapi.CertificateSpec) {
		return func(s *cmapi.CertificateSpec) {
			s.DNSNames = []string{"key.example.com"}
			s.PrivateKey = &cmapi.CertificatePrivateKey{Algorithm: alg, Size: size}
		}
	}
	duration := func(d time.Duration) func(*cmapi.CertificateSpec) {
		return func(s *cmapi.CertificateSpec) {
			s.DNSNames = []string{"duration.example.com"}
			s.Duration = &metav1.Duration{Duration: d}
		}
	}
	usages := func(us ...cmapi.KeyUsage) func(*cmapi.CertificateSpec) {
		return func(s *cmapi.CertificateSpec) {
			s.DNSNames = []string{"usages.example.com"}
			s.Usages = us
		}
	}
	renew := func(ctx context.Context, t *testing.T, crt *cmapi.Certificate) {
		t.Helper()
		// What `cmctl renew` does.
		updateCertificate(ctx, t, crt, func(c *cmapi.Certificate) bool {
			apiutil.SetCertificateCondition(c, c.Generation, cmapi.CertificateConditionIssuing, cmmeta.ConditionTrue,
				"ManuallyTriggered", "re-issuance triggered by the e2e test")
			return true
		})
	}
	literal := "CN=literal.example.com,OU=FooLong,OU=Bar,OU=Baz,OU=Dept.,O=Corp.,C=DE"

	rows := map[string]featureRow{
		// Keys: every algorithm and size cert-manager generates.
		"key RSA 2048 (cert-manager's default)": {spec: dns("default-key.example.com")},
		"key RSA 3072":                          {spec: withKey(cmapi.RSAKeyAlgorithm, 3072)},
		"key RSA 4096":                          {spec: withKey(cmapi.RSAKeyAlgorithm, 4096)},
		"key ECDSA P-256":                       {spec: withKey(cmapi.ECDSAKeyAlgorithm, 256)},
		"key ECDSA P-384":                       {spec: withKey(cmapi.ECDSAKeyAlgorithm, 384)},
		"key ECDSA P-521":                       {spec: withKey(cmapi.ECDSAKeyAlgorithm, 521)},
		"key Ed25519":                           {spec: withKey(cmapi.Ed25519KeyAlgorithm, 0)},

		// Lifetimes: NotAfter - NotBefore is what was asked, exactly (checkIssued).
		"duration default (2160h)":     {spec: dns("default-duration.example.com")},
		"duration 896h (conformance)":  {spec: duration(896 * time.Hour)},
		"duration 1h (policy minimum)": {spec: duration(time.Hour)},
		"duration past the CA's expiry is cut to it": {
			spec: duration(50000 * time.Hour), cutToCA: true,
			check: func(t *testing.T, crt *cmapi.Certificate, _ *x509.Certificate, _ *corev1.Secret) {
				// `kubectl describe certificaterequest` says so.
				request := fmt.Sprintf("%s-%d", crt.Name, *crt.Status.Revision)
				testenv.Eventually(t, 30*time.Second, "a DurationTruncated event on CertificateRequest "+request, func() error {
					var evs corev1.EventList
					if err := suite.client.List(ctx, &evs, client.InNamespace(crt.Namespace)); err != nil {
						return err
					}
					var seen []string
					for _, e := range evs.Items {
						if e.InvolvedObject.Name == request {
							if e.Reason == "DurationTruncated" {
								return nil
							}
							seen = append(seen, e.Reason)
						}
					}
					return fmt.Errorf("events of %s: %q", request, seen)
				})
			},
		},

		// Usages: the leaf carries exactly the usages cert-manager asked for (checkIssued).
		"usages arbitrary (conformance: signing, data encipherment, server auth, client auth)": {
			spec: usages(cmapi.UsageSigning, cmapi.UsageDataEncipherment, cmapi.UsageServerAuth, cmapi.UsageClientAuth),
			check: func(t *testing.T, _ *cmapi.Certificate, leaf *x509.Certificate, _ *corev1.Secret) {
				if leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 || leaf.KeyUsage&x509.KeyUsageDataEncipherment == 0 {
					t.Errorf("key usage %b lacks digital signature or data encipherment", leaf.KeyUsage)
				}
				if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) || !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
					t.Errorf("extended key usages %v lack server auth or client auth", leaf.ExtKeyUsage)
				}
			},
		},
		"usages every key usage of a leaf": {spec: usages(cmapi.UsageDigitalSignature, cmapi.UsageContentCommitment,
			cmapi.UsageKeyEncipherment, cmapi.UsageKeyAgreement, cmapi.UsageDataEncipherment, cmapi.UsageEncipherOnly, cmapi.UsageDecipherOnly)},
		"usages every extended key usage": {spec: usages(cmapi.UsageDigitalSignature, cmapi.UsageServerAuth, cmapi.UsageClientAuth,
			cmapi.UsageCodeSigning, cmapi.UsageEmailProtection, cmapi.UsageIPsecEndSystem, cmapi.UsageIPsecTunnel, cmapi.UsageIPsecUser,
			cmapi.UsageTimestamping, cmapi.UsageOCSPSigning, cmapi.UsageMicrosoftSGC, cmapi.UsageNetscapeSGC, cmapi.UsageAny)},
		"usages cert sign is refused (a CA's usage)": {
			spec:    usages(cmapi.UsageDigitalSignature, cmapi.UsageCertSign),
			refused: []string{`key usage "cert sign" is reserved for CA certificates`},
		},

		// Identities: SAN kinds and common names.
		"SAN DNS names, several labels deep":               {spec: dns("a.example.com", "b.a.example.com", "c.b.a.example.com")},
		"SAN 63-character label (conformance long domain)": {spec: dns(strings.Repeat("l", 63) + ".example.com")},
		"SAN IP addresses only (IPv4, IPv6)":               {spec: func(s *cmapi.CertificateSpec) { s.IPAddresses = []string{"127.0.0.1", "10.96.0.1", "fd00::1"} }},
		"SAN DNS name and IP address": {spec: func(s *cmapi.CertificateSpec) {
			s.DNSNames, s.IPAddresses = []string{"dns-ip.example.com"}, []string{"192.0.2.10"}
		}},
		"SAN URI is refused": {
			spec:    func(s *cmapi.CertificateSpec) { s.URIs = []string{"spiffe://cluster.local/ns/sandbox/sa/foo"} },
			refused: []string{"URI SANs are not allowed", `"spiffe://cluster.local/ns/sandbox/sa/foo"`},
		},
		"SAN email address is refused": {
			spec:    func(s *cmapi.CertificateSpec) { s.EmailAddresses = []string{"alice@example.com"} },
			refused: []string{"email address SANs are not allowed", `"alice@example.com"`},
		},
		"SAN wildcard DNS name is refused": {
			spec:    dns("*.wild.example.com"),
			refused: []string{`DNS name "*.wild.example.com" is not allowed: wildcard names are not allowed`},
		},
		"SAN otherName (UPN) is refused": {
			spec: func(s *cmapi.CertificateSpec) {
				s.DNSNames = []string{"upn.example.com"}
				s.OtherNames = []cmapi.OtherName{{OID: "1.3.6.1.4.1.311.20.2.3", UTF8Value: "upn@domain.test"}}
			},
			refused: []string{"otherName 1.3.6.1.4.1.311.20.2.3", `"upn@domain.test"`, "is not supported"},
		},
		"CN only": {spec: func(s *cmapi.CertificateSpec) { s.CommonName = "test-common-name-only" }},
		"CN and IP address": {spec: func(s *cmapi.CertificateSpec) {
			s.CommonName, s.IPAddresses = "test-common-name-ip", []string{"192.0.2.11"}
		}},
		"CN copied into the DNS names": {spec: func(s *cmapi.CertificateSpec) {
			s.CommonName, s.DNSNames = "cn.example.com", []string{"cn.example.com", "other.example.com"}
		}},
		"CN distinct from the DNS names": {spec: func(s *cmapi.CertificateSpec) {
			s.CommonName, s.DNSNames = "distinct-cn.example.com", []string{"distinct-dns.example.com"}
		}},

		// Subjects.
		"subject organization, OU, country, province, locality, street, postal code, serial number": {
			spec: func(s *cmapi.CertificateSpec) {
				s.CommonName, s.DNSNames = "subject.example.com", []string{"subject.example.com"}
				s.Subject = &cmapi.X509Subject{Organizations: []string{"Corp."}, OrganizationalUnits: []string{"Dept.", "Team"},
					Countries: []string{"DE"}, Provinces: []string{"Bavaria"}, Localities: []string{"Munich"},
					StreetAddresses: []string{"1 Main St"}, PostalCodes: []string{"80331"}, SerialNumber: "42"}
			},
			check: func(t *testing.T, crt *cmapi.Certificate, leaf *x509.Certificate, _ *corev1.Secret) {
				want, got := crt.Spec.Subject, leaf.Subject
				for _, f := range []struct {
					name      string
					want, got []string
				}{
					{"organizations", want.Organizations, got.Organization}, {"organizational units", want.OrganizationalUnits, got.OrganizationalUnit},
					{"countries", want.Countries, got.Country}, {"provinces", want.Provinces, got.Province},
					{"localities", want.Localities, got.Locality}, {"street addresses", want.StreetAddresses, got.StreetAddress},
					{"postal codes", want.PostalCodes, got.PostalCode}, {"serial number", []string{want.SerialNumber}, []string{got.SerialNumber}},
				} {
					// cert-manager's CSR (crypto/x509) encodes an attribute's values as one
					// multi-valued RDN, a DER SET OF sorted by encoding: their order is not kept.
					if !slices.Equal(sorted(f.want), sorted(f.got)) {
						t.Errorf("subject %s: got %q, want %q", f.name, f.got, f.want)
					}
				}
			},
		},
		"literal subject keeps its order and repeated attributes": {
			spec: func(s *cmapi.CertificateSpec) {
				s.LiteralSubject, s.DNSNames = literal, []string{"literal.example.com"}
			},
			check: func(t *testing.T, crt *cmapi.Certificate, leaf *x509.Certificate, _ *corev1.Secret) {
				want, err := pki.UnmarshalSubjectStringToRDNSequence(crt.Spec.LiteralSubject)
				if err != nil {
					t.Fatal(err)
				}
				var got pkix.RDNSequence
				if rest, err := asn1.Unmarshal(leaf.RawSubject, &got); err != nil || len(rest) > 0 {
					t.Fatalf("the leaf's subject does not parse: %v", err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("subject %s, want the literal subject %s", got, crt.Spec.LiteralSubject)
				}
			},
		},
		"literal subject with a wildcard CN is refused (the conformance suite's literal subject)": {
			spec: func(s *cmapi.CertificateSpec) {
				s.LiteralSubject, s.DNSNames = "CN=*.lit.example.com,OU=FooLong,O=Corp.", []string{"*.lit.example.com"}
			},
			refused: []string{`common name "*.lit.example.com" is not allowed: wildcard names are not allowed`},
		},
		"literal subject with a UID attribute is refused": {
			spec: func(s *cmapi.CertificateSpec) {
				s.LiteralSubject, s.DNSNames = "CN=uid.example.com,UID=jdoe,O=Corp.", []string{"uid.example.com"}
			},
			refused: []string{"the subject attribute", `"jdoe"`, "is not supported"},
		},

		// What only a CA carries.
		"CA certificate (isCA) is refused": {
			spec:    func(s *cmapi.CertificateSpec) { s.IsCA, s.DNSNames = true, []string{"ca.example.com"} },
			refused: []string{"a CA certificate was requested", "this issuer signs only leaf certificates"},
		},

		// Re-issuance.
		"private key reuse: rotationPolicy Never keeps the key": {
			spec: func(s *cmapi.CertificateSpec) {
				s.DNSNames = []string{"reuse.example.com"}
				s.PrivateKey = &cmapi.CertificatePrivateKey{RotationPolicy: cmapi.RotationPolicyNever}
			},
			reissue: &reissueStep{trigger: renew, check: func(t *testing.T, first, second *x509.Certificate) {
				if !publicKeysEqual(first.PublicKey, second.PublicKey) {
					t.Error("rotationPolicy Never: the re-issued certificate has a new key")
				}
			}},
		},
		"private key rotation: rotationPolicy Always makes a new key": {
			spec: func(s *cmapi.CertificateSpec) {
				s.DNSNames = []string{"rotate.example.com"}
				s.PrivateKey = &cmapi.CertificatePrivateKey{RotationPolicy: cmapi.RotationPolicyAlways}
			},
			reissue: &reissueStep{trigger: renew, check: func(t *testing.T, first, second *x509.Certificate) {
				if publicKeysEqual(first.PublicKey, second.PublicKey) {
					t.Error("rotationPolicy Always: the re-issued certificate kept the key")
				}
			}},
		},
		"re-issue on a DNS name change": {
			spec: dns("first.example.com"),
			reissue: &reissueStep{
				trigger: func(ctx context.Context, t *testing.T, crt *cmapi.Certificate) {
					updateCertificate(ctx, t, crt, func(c *cmapi.Certificate) bool {
						c.Spec.DNSNames = append(c.Spec.DNSNames, "second.example.com")
						return false
					})
				},
				check: func(t *testing.T, _, second *x509.Certificate) {
					if !slices.Contains(second.DNSNames, "second.example.com") {
						t.Errorf("the re-issued certificate names %v, without the added name", second.DNSNames)
					}
				},
			},
		},
	}

	names := map[string]string{}
	for feature := range rows {
		name := certificateNameFor(feature)
		if other, dup := names[name]; dup {
			t.Fatalf("rows %q and %q make the same Certificate name %q", feature, other, name)
		}
		names[name] = feature
	}
	for feature, row := range rows {
		t.Run(feature, func(t *testing.T) {
			t.Parallel()
			name := certificateNameFor(feature)
			crt := &cmapi.Certificate{
				ObjectMeta: metav1.ObjectMeta{Namespace: featuresNamespace, Name: name,
					Annotations: map[string]string{"e2e.antrea.io/feature": feature}},
				Spec: cmapi.CertificateSpec{SecretName: name, IssuerRef: ref},
			}
			row.spec(&crt.Spec)
			if err := suite.client.Create(ctx, crt); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { deleteCertificate(context.Background(), crt) })
			key := client.ObjectKeyFromObject(crt)

			if len(row.refused) > 0 {
				waitRefused(ctx, t, key, row.refused...)
				return
			}
			issued := waitIssued(ctx, t, key, 1)
			leaf, secret := issuedLeaf(ctx, t, issued)
			checkIssued(t, issued, leaf, secret, row.cutToCA)
			if row.check != nil {
				row.check(t, issued, leaf, secret)
			}
			if row.reissue == nil {
				return
			}
			row.reissue.trigger(ctx, t, issued)
			again := waitIssued(ctx, t, key, *issued.Status.Revision+1)
			second, secret := issuedLeaf(ctx, t, again)
			if second.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
				t.Fatal("re-issuance returned the same certificate")
			}
			checkIssued(t, again, second, secret, false)
			row.reissue.check(t, leaf, second)
		})
	}
}

// certificateNameFor turns a row's feature into an object name.
func certificateNameFor(feature string) string {
	s := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(feature), "-"), "-")
	if len(s) > 60 {
		s = strings.TrimRight(s[:60], "-")
	}
	return s
}

// deleteCertificate deletes a Certificate, its Secret, and what the garbage collector deletes with
// it in a cluster (the local control plane runs none): its CertificateRequests and next private
// key Secrets. A Certificate of the same name then starts afresh: cert-manager names requests
// <name>-<revision>, and a leftover <name>-1 would stall it.
func deleteCertificate(ctx context.Context, crt *cmapi.Certificate) {
	_ = suite.client.Delete(ctx, crt)
	_ = suite.client.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: crt.Namespace, Name: crt.Spec.SecretName}})
	var crs cmapi.CertificateRequestList
	if err := suite.client.List(ctx, &crs, client.InNamespace(crt.Namespace)); err == nil {
		for i := range crs.Items {
			if metav1.IsControlledBy(&crs.Items[i], crt) {
				_ = suite.client.Delete(ctx, &crs.Items[i])
			}
		}
	}
	var secrets corev1.SecretList
	if err := suite.client.List(ctx, &secrets, client.InNamespace(crt.Namespace)); err == nil {
		for i := range secrets.Items {
			if metav1.IsControlledBy(&secrets.Items[i], crt) {
				_ = suite.client.Delete(ctx, &secrets.Items[i])
			}
		}
	}
}

// updateCertificate changes a Certificate with retries on conflict; status says whether the
// change is to its status (what `cmctl renew` writes) or its spec.
func updateCertificate(ctx context.Context, t *testing.T, crt *cmapi.Certificate, change func(*cmapi.Certificate) (status bool)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		c := &cmapi.Certificate{}
		if err := suite.client.Get(ctx, client.ObjectKeyFromObject(crt), c); err != nil {
			return err
		}
		if change(c) {
			return suite.client.Status().Update(ctx, c)
		}
		return suite.client.Update(ctx, c)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitIssued waits until cert-manager has issued the Certificate's current generation (see
// certificateIssued) and returns it.
func waitIssued(ctx context.Context, t *testing.T, key client.ObjectKey, minRevision int) *cmapi.Certificate {
	t.Helper()
	crt := &cmapi.Certificate{}
	testenv.Eventually(t, 3*time.Minute, fmt.Sprintf("Certificate %s issued at revision %d or later", key, minRevision), func() error {
		return certificateIssued(ctx, key, minRevision, crt)
	})
	return crt
}

// certificateIssued reads the Certificate into crt and returns nil when it is Ready for its
// current generation, no longer issuing, at revision minRevision or later.
func certificateIssued(ctx context.Context, key client.ObjectKey, minRevision int, crt *cmapi.Certificate) error {
	if err := suite.client.Get(ctx, key, crt); err != nil {
		return err
	}
	ready := apiutil.GetCertificateCondition(crt, cmapi.CertificateConditionReady)
	issuing := apiutil.GetCertificateCondition(crt, cmapi.CertificateConditionIssuing)
	switch {
	case issuing != nil && issuing.Status == cmmeta.ConditionFalse:
		return fmt.Errorf("issuance failed: %s", issuing.Message)
	case ready == nil || ready.Status != cmmeta.ConditionTrue || ready.ObservedGeneration != crt.Generation:
		return fmt.Errorf("not Ready for generation %d: %+v", crt.Generation, crt.Status.Conditions)
	case issuing != nil:
		return fmt.Errorf("still issuing: %s", issuing.Message)
	case crt.Status.Revision == nil || *crt.Status.Revision < minRevision:
		return fmt.Errorf("revision %v", crt.Status.Revision)
	}
	return nil
}

// waitRefused waits until the Certificate's issuance failed with a message naming every item of
// want, and checks that nothing was issued.
func waitRefused(ctx context.Context, t *testing.T, key client.ObjectKey, want ...string) {
	t.Helper()
	crt := &cmapi.Certificate{}
	testenv.Eventually(t, 3*time.Minute, fmt.Sprintf("Certificate %s refused naming %q", key, want), func() error {
		if err := suite.client.Get(ctx, key, crt); err != nil {
			return err
		}
		c := apiutil.GetCertificateCondition(crt, cmapi.CertificateConditionIssuing)
		if c == nil || c.Status != cmmeta.ConditionFalse {
			return fmt.Errorf("conditions %+v", crt.Status.Conditions)
		}
		return containsAll(c.Message, want...)
	})
	if c := apiutil.GetCertificateCondition(crt, cmapi.CertificateConditionReady); c != nil && c.Status == cmmeta.ConditionTrue {
		t.Error("a refused Certificate is Ready")
	}
	s := &corev1.Secret{}
	if err := suite.client.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: crt.Spec.SecretName}, s); err == nil && len(s.Data[corev1.TLSCertKey]) > 0 {
		t.Error("a certificate was written for a refused Certificate")
	}
	t.Logf("refused: %s", apiutil.GetCertificateCondition(crt, cmapi.CertificateConditionIssuing).Message)
}

// issuedLeaf reads the Certificate's Secret and its leaf certificate.
func issuedLeaf(ctx context.Context, t *testing.T, crt *cmapi.Certificate) (*x509.Certificate, *corev1.Secret) {
	t.Helper()
	s := &corev1.Secret{}
	if err := suite.client.Get(ctx, client.ObjectKey{Namespace: crt.Namespace, Name: crt.Spec.SecretName}, s); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ca.crt", corev1.TLSCertKey, corev1.TLSPrivateKeyKey} {
		if len(s.Data[k]) == 0 {
			t.Fatalf("Secret %s/%s has no %s (keys: %v)", s.Namespace, s.Name, k, keysOf(s.Data))
		}
	}
	return parseCertsPEM(t, s.Data[corev1.TLSCertKey])[0], s
}

// checkIssued checks what every issued certificate must show: it chains to the Secret's ca.crt, is
// not a CA, holds the Secret's key of the algorithm and size asked for, lives exactly the requested
// duration (or ends with its CA when cutToCA), and carries exactly the names, common name and
// usages the Certificate asks for.
func checkIssued(t *testing.T, crt *cmapi.Certificate, leaf *x509.Certificate, s *corev1.Secret, cutToCA bool) {
	t.Helper()
	chain := parseCertsPEM(t, s.Data[corev1.TLSCertKey])
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	cas := parseCertsPEM(t, s.Data["ca.crt"])
	for _, c := range cas {
		roots.AddCert(c)
	}
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("tls.crt does not chain to ca.crt: %v", err)
	}
	if leaf.IsCA || !leaf.BasicConstraintsValid {
		t.Errorf("basic constraints: valid %v, CA %v; want a leaf (CA:FALSE)", leaf.BasicConstraintsValid, leaf.IsCA)
	}

	priv, err := pki.DecodePrivateKeyBytes(s.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		t.Fatalf("tls.key: %v", err)
	}
	if !publicKeysEqual(priv.Public(), leaf.PublicKey) {
		t.Error("tls.key does not hold the leaf's key")
	}
	if got, want := keyDescription(leaf.PublicKey), wantKeyDescription(crt.Spec.PrivateKey); got != want {
		t.Errorf("key %s, want %s", got, want)
	}

	lifetime := leaf.NotAfter.Sub(leaf.NotBefore)
	want := cmapi.DefaultCertificateDuration
	if crt.Spec.Duration != nil {
		want = crt.Spec.Duration.Duration
	}
	switch {
	case cutToCA:
		if !leaf.NotAfter.Equal(chain[len(chain)-1].NotAfter) || lifetime >= want {
			t.Errorf("lifetime %s until %s; want it cut to the CA's expiry %s", lifetime, leaf.NotAfter, chain[len(chain)-1].NotAfter)
		}
	case lifetime != want:
		t.Errorf("NotAfter - NotBefore = %s, want exactly %s", lifetime, want)
	}

	if got, want := sorted(leaf.DNSNames), sorted(crt.Spec.DNSNames); !slices.Equal(got, want) {
		t.Errorf("DNS names %q, want %q", got, want)
	}
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	var wantIPs []string
	for _, ip := range crt.Spec.IPAddresses {
		wantIPs = append(wantIPs, net.ParseIP(ip).String())
	}
	if got, want := sorted(ips), sorted(wantIPs); !slices.Equal(got, want) {
		t.Errorf("IP addresses %q, want %q", got, want)
	}
	if len(leaf.URIs) > 0 || len(leaf.EmailAddresses) > 0 {
		t.Errorf("URIs %v, emails %v; none were asked for", leaf.URIs, leaf.EmailAddresses)
	}
	if crt.Spec.LiteralSubject == "" && leaf.Subject.CommonName != crt.Spec.CommonName {
		t.Errorf("common name %q, want %q", leaf.Subject.CommonName, crt.Spec.CommonName)
	}

	requested := crt.Spec.Usages
	if len(requested) == 0 {
		requested = cmapi.DefaultKeyUsages()
	}
	ku, eku, err := pki.KeyUsagesForCertificateOrCertificateRequest(requested, false)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.KeyUsage != ku {
		t.Errorf("key usage %b, want %b (%v)", leaf.KeyUsage, ku, requested)
	}
	if got, want := slices.Sorted(slices.Values(leaf.ExtKeyUsage)), slices.Sorted(slices.Values(eku)); !slices.Equal(got, want) {
		t.Errorf("extended key usages %v, want %v (%v)", got, want, requested)
	}
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, err := pki.PublicKeysEqual(a, b)
	return err == nil && eq
}

func keyDescription(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	default:
		return fmt.Sprintf("%T", pub)
	}
}

// wantKeyDescription is the key cert-manager generates for a Certificate's privateKey.
func wantKeyDescription(pk *cmapi.CertificatePrivateKey) string {
	alg, size := cmapi.RSAKeyAlgorithm, 0
	if pk != nil {
		if pk.Algorithm != "" {
			alg = pk.Algorithm
		}
		size = pk.Size
	}
	switch alg {
	case cmapi.ECDSAKeyAlgorithm:
		if size == 0 {
			size = 256
		}
		return fmt.Sprintf("ECDSA P-%d", size)
	case cmapi.Ed25519KeyAlgorithm:
		return "Ed25519"
	default:
		if size == 0 {
			size = 2048
		}
		return fmt.Sprintf("RSA %d", size)
	}
}
