package antreasim

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GroupVersion is one API group version antrea-controller serves through the aggregator.
type GroupVersion struct {
	Group, Version string
	// APIService is the name of the APIService registering it (<version>.<group>).
	APIService string
	// Resources are a few of the resources Antrea serves in it (names only; enough for discovery).
	Resources []string
}

// GroupVersions are the three groups Antrea registers with the aggregator.
var GroupVersions = []GroupVersion{
	{Group: "controlplane.antrea.io", Version: "v1beta2", APIService: "v1beta2.controlplane.antrea.io",
		Resources: []string{"networkpolicies", "addressgroups", "appliedtogroups"}},
	{Group: "system.antrea.io", Version: "v1beta1", APIService: "v1beta1.system.antrea.io",
		Resources: []string{"controllerinfos", "supportbundles"}},
	{Group: "stats.antrea.io", Version: "v1alpha1", APIService: "v1alpha1.stats.antrea.io",
		Resources: []string{"networkpolicystats", "antreanetworkpolicystats", "antreaclusternetworkpolicystats"}},
}

// APIServiceNames are the names of Antrea's APIServices.
func APIServiceNames() []string {
	names := make([]string, 0, len(GroupVersions))
	for _, gv := range GroupVersions {
		names = append(names, gv.APIService)
	}
	return names
}

// Server is a stand-in for antrea-controller's API server: HTTPS on 127.0.0.1 answering the
// discovery requests kube-aggregator makes (GET /apis and GET /apis/<group>/<version>) and 404
// for everything else. Its certificate is looked up on every handshake, so SetKeyPair takes effect
// on the next new connection (as Antrea's reload does); established connections keep the old one.
type Server struct {
	addr     string
	listener net.Listener
	http     *http.Server
	pair     atomic.Pointer[tls.Certificate]
	counts   *serverCounts
}

// serverCounts are a server's request and handshake counters; a Controller shares one between
// the servers of its successive runs.
type serverCounts struct {
	requests   atomic.Int64
	handshakes atomic.Int64
	mu         sync.Mutex
	byPath     map[string]int64
}

func newServerCounts() *serverCounts { return &serverCounts{byPath: map[string]int64{}} }

// ServerOption configures NewServer.
type ServerOption func(*Server) error

// WithKeyPair serves certPEM (leaf first, then any chain) with keyPEM from the start.
func WithKeyPair(certPEM, keyPEM []byte) ServerOption {
	return func(s *Server) error { return s.SetKeyPair(certPEM, keyPEM) }
}

// WithAddr listens on addr (host:port) instead of a random port on 127.0.0.1.
func WithAddr(addr string) ServerOption {
	return func(s *Server) error { s.addr = addr; return nil }
}

func withCounts(c *serverCounts) ServerOption {
	return func(s *Server) error { s.counts = c; return nil }
}

// ErrNoCertificate fails handshakes while the server has no certificate to serve.
var ErrNoCertificate = errors.New("antreasim: no serving certificate yet")

// NewServer starts a server on 127.0.0.1 with a random port (or WithAddr's). Close it when done.
func NewServer(opts ...ServerOption) (*Server, error) {
	s := &Server{addr: "127.0.0.1:0", counts: newServerCounts()}
	for _, opt := range opts {
		if err := opt(s); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("listening: %w", err)
	}
	s.listener = ln
	s.http = &http.Server{
		Handler: http.HandlerFunc(s.serveHTTP),
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: s.certificate,
		},
		// TLS handshake errors (a client rejecting our certificate) are expected in tests: keep
		// them out of the test output.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() { _ = s.http.ServeTLS(ln, "", "") }()
	return s, nil
}

func (s *Server) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.counts.handshakes.Add(1)
	if c := s.pair.Load(); c != nil {
		return c, nil
	}
	return nil, ErrNoCertificate
}

// SetKeyPair replaces the served certificate (PEM, leaf first) and key; new connections use it.
func (s *Server) SetKeyPair(certPEM, keyPEM []byte) error {
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("loading key pair: %w", err)
	}
	s.pair.Store(&c)
	return nil
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Port is the TCP port the server listens on.
func (s *Server) Port() int32 { return int32(s.listener.Addr().(*net.TCPAddr).Port) }

// URL is the server's base URL.
func (s *Server) URL() string { return "https://" + s.Addr() }

// Requests is the number of HTTP requests served (any path, any answer).
func (s *Server) Requests() int64 { return s.counts.requests.Load() }

// RequestsTo is the number of HTTP requests served for path exactly.
func (s *Server) RequestsTo(path string) int64 { return s.counts.requestsTo(path) }

func (c *serverCounts) requestsTo(path string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byPath[path]
}

// Handshakes is the number of TLS handshakes the server started (successful or not).
func (s *Server) Handshakes() int64 { return s.counts.handshakes.Load() }

// Close stops the server and closes every connection.
func (s *Server) Close() error { return s.http.Close() }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.counts.requests.Add(1)
	s.counts.mu.Lock()
	s.counts.byPath[r.URL.Path]++
	s.counts.mu.Unlock()

	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	if path == "/apis" {
		writeJSON(w, groupList())
		return
	}
	for _, gv := range GroupVersions {
		if path == "/apis/"+gv.Group+"/"+gv.Version {
			writeJSON(w, resourceList(gv))
			return
		}
	}
	http.NotFound(w, r)
}

func groupList() *metav1.APIGroupList {
	l := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	for _, gv := range GroupVersions {
		v := metav1.GroupVersionForDiscovery{GroupVersion: gv.Group + "/" + gv.Version, Version: gv.Version}
		l.Groups = append(l.Groups, metav1.APIGroup{Name: gv.Group, Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v})
	}
	return l
}

func resourceList(gv GroupVersion) *metav1.APIResourceList {
	l := &metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: gv.Group + "/" + gv.Version,
	}
	for _, r := range gv.Resources {
		l.APIResources = append(l.APIResources, metav1.APIResource{
			Name: r, Namespaced: false, Kind: kindOf(r), Verbs: metav1.Verbs{"get", "list", "watch"},
		})
	}
	return l
}

// kindOf turns a plural resource name into a plausible kind: enough for discovery.
func kindOf(resource string) string {
	k := strings.TrimSuffix(resource, "s")
	return strings.ToUpper(k[:1]) + k[1:]
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
