package antreasim

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func newMaterial(t *testing.T) *Material {
	t.Helper()
	m, err := NewMaterial("test-ca", Namespace)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newServer(t *testing.T, opts ...ServerOption) *Server {
	t.Helper()
	s, err := NewServer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestServerAnswersDiscovery proves the stand-in serves what kube-aggregator's availability check
// reads: GET /apis and GET /apis/<group>/<version> for Antrea's three groups, 404 elsewhere.
func TestServerAnswersDiscovery(t *testing.T) {
	m := newMaterial(t)
	s := newServer(t, WithKeyPair(m.Serving.CertPEM, m.Serving.KeyPEM))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(m.CA.CertPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: ServerName(Namespace)}}}

	var groups metav1.APIGroupList
	get(t, hc, s.URL()+"/apis", http.StatusOK, &groups)
	if len(groups.Groups) != 3 {
		t.Errorf("groups = %+v, want Antrea's three", groups.Groups)
	}
	for _, gv := range GroupVersions {
		var rl metav1.APIResourceList
		get(t, hc, s.URL()+"/apis/"+gv.Group+"/"+gv.Version, http.StatusOK, &rl)
		if rl.GroupVersion != gv.Group+"/"+gv.Version || len(rl.APIResources) == 0 {
			t.Errorf("%s: resource list %+v", gv.APIService, rl)
		}
	}
	get(t, hc, s.URL()+"/openapi/v2", http.StatusNotFound, nil)
	if got := s.RequestsTo("/apis/controlplane.antrea.io/v1beta2"); got != 1 {
		t.Errorf("RequestsTo(controlplane) = %d, want 1", got)
	}
	if got := s.Requests(); got != 5 {
		t.Errorf("Requests() = %d, want 5", got)
	}
}

func get(t *testing.T, hc *http.Client, url string, wantStatus int, into any) {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: status %d, want %d", url, resp.StatusCode, wantStatus)
	}
	if into != nil {
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			t.Fatalf("GET %s: decoding: %v", url, err)
		}
	}
}

// TestAgentClientTrustsOnlyItsCA proves the agent-style client accepts the server only with the
// CA that issued its certificate, picks up a new server key pair on the next connection, and
// refuses a bundle without certificates (keeping the previous one).
func TestAgentClientTrustsOnlyItsCA(t *testing.T) {
	m1, m2 := newMaterial(t), newMaterial(t)
	s := newServer(t)
	a := NewAgentClient(Namespace)

	if err := a.Handshake(s.Addr()); !errors.Is(err, ErrNoCA) {
		t.Fatalf("handshake without CA: %v, want ErrNoCA", err)
	}
	if err := a.SetCA(m1.CA.CertPEM); err != nil {
		t.Fatal(err)
	}
	if err := a.Handshake(s.Addr()); err == nil {
		t.Fatal("handshake succeeded although the server has no certificate")
	}
	if err := s.SetKeyPair(m1.Serving.CertPEM, m1.Serving.KeyPEM); err != nil {
		t.Fatal(err)
	}
	if err := a.Handshake(s.Addr()); err != nil {
		t.Fatalf("handshake with the right CA: %v", err)
	}
	if err := s.SetKeyPair(m2.Serving.CertPEM, m2.Serving.KeyPEM); err != nil {
		t.Fatal(err)
	}
	err := a.Handshake(s.Addr())
	if err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("handshake with a foreign server certificate: %v, want unknown authority", err)
	}
	if err := a.SetCA([]byte("not a pem")); !errors.Is(err, ErrNoCA) {
		t.Fatalf("SetCA(garbage) = %v, want ErrNoCA", err)
	}
	if string(a.CA()) != string(m1.CA.CertPEM) {
		t.Fatal("a refused bundle replaced the trusted one")
	}
	if err := a.SetCA(append(append([]byte(nil), m1.CA.CertPEM...), m2.CA.CertPEM...)); err != nil {
		t.Fatal(err)
	}
	if err := a.Handshake(s.Addr()); err != nil {
		t.Fatalf("handshake with a two-CA bundle: %v", err)
	}
	if a.CAUpdates() != 2 {
		t.Errorf("CAUpdates = %d, want 2", a.CAUpdates())
	}
}

// TestSecretShapes proves the two Secret shapes: cert-manager's (ca.crt, leaf tls.crt, tls.key)
// and Antrea's self-signed mode (tls.crt = leaf + CA, no ca.crt), and that the leaf is a valid
// server certificate for antrea.<ns>.svc under its CA.
func TestSecretShapes(t *testing.T) {
	m := newMaterial(t)
	cm := m.CertManagerSecret(Namespace, SecretName)
	if cm.Type != corev1.SecretTypeTLS || len(cm.Data) != 3 || string(cm.Data[CAKey]) != string(m.CA.CertPEM) {
		t.Fatalf("cert-manager shape: type %s, keys %d", cm.Type, len(cm.Data))
	}
	ss := m.SelfSignedModeSecret(Namespace, SecretName)
	if _, ok := ss.Data[CAKey]; ok {
		t.Fatal("self-signed shape has ca.crt")
	}
	if n := countCerts(ss.Data[corev1.TLSCertKey]); n != 2 {
		t.Fatalf("self-signed tls.crt has %d certificates, want leaf + CA", n)
	}
	leaf := firstCert(t, cm.Data[corev1.TLSCertKey])
	pool := x509.NewCertPool()
	pool.AddCert(m.CA.Cert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: ServerName(Namespace),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Fatalf("leaf does not verify: %v", err)
	}
}

func countCerts(b []byte) int {
	n := 0
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return n
		}
		n++
	}
}

func firstCert(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
