package antreasim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
)

// AgentClient connects to antrea-controller the way antrea-agent does: it trusts only the CA
// bundle it was given (the antrea-ca ConfigMap's ca.crt) and verifies the server as
// antrea.<ns>.svc.
type AgentClient struct {
	serverName string

	mu   sync.RWMutex
	pool *x509.CertPool
	pem  []byte

	updates atomic.Int64
	stats   agentCounts
}

// AgentStats count an agent's handshakes by outcome.
type AgentStats struct {
	// Handshakes is every attempt.
	Handshakes int64
	Succeeded  int64
	// X509Failures: the server's certificate was not trusted (x509: certificate signed by
	// unknown authority, wrong name...), the failure this project exists to prevent.
	X509Failures int64
	// Refused: nothing listened (antrea-controller restarting: Antrea's own gap).
	Refused int64
	// NoCA: the agent had no CA bundle yet (antrea-ca missing).
	NoCA int64
	// Other failures (timeouts, resets, no certificate served yet).
	Other int64
	// LastX509Error is the last X509 failure's message.
	LastX509Error string
}

// Failed is every attempt that did not succeed.
func (s AgentStats) Failed() int64 { return s.Handshakes - s.Succeeded }

type agentCounts struct {
	mu sync.Mutex
	s  AgentStats
}

// NewAgentClient returns a client for antrea-controller in namespace that trusts nothing yet.
func NewAgentClient(namespace string) *AgentClient {
	return &AgentClient{serverName: ServerName(namespace)}
}

// ErrNoCA is returned by Handshake before any CA was set, and by SetCA for a bundle with no
// certificate in it.
var ErrNoCA = errors.New("antreasim: no CA certificate")

// SetCA replaces the trusted bundle with the certificates in pemBytes. A bundle without any
// certificate is refused and the previous one kept, as k8s.io/apiserver's dynamic CA does.
func (a *AgentClient) SetCA(pemBytes []byte) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return fmt.Errorf("%w in the %d bytes given", ErrNoCA, len(pemBytes))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pool, a.pem = pool, append([]byte(nil), pemBytes...)
	a.updates.Add(1)
	return nil
}

// CA returns the trusted bundle (nil before any).
func (a *AgentClient) CA() []byte {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.pem
}

// CAUpdates counts the bundles accepted so far.
func (a *AgentClient) CAUpdates() int64 { return a.updates.Load() }

// Handshake dials addr (host:port) and completes a TLS handshake trusting only the current CA
// bundle, ServerName antrea.<ns>.svc. A nil error means the server proved its identity. Every
// call is counted in Stats by outcome.
func (a *AgentClient) Handshake(addr string) error {
	err := a.handshake(addr)
	a.stats.mu.Lock()
	defer a.stats.mu.Unlock()
	s := &a.stats.s
	s.Handshakes++
	var verr *tls.CertificateVerificationError
	switch {
	case err == nil:
		s.Succeeded++
	case errors.As(err, &verr):
		s.X509Failures++
		s.LastX509Error = err.Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		s.Refused++
	case errors.Is(err, ErrNoCA):
		s.NoCA++
	default:
		s.Other++
	}
	return err
}

// Stats returns the handshake counters.
func (a *AgentClient) Stats() AgentStats {
	a.stats.mu.Lock()
	defer a.stats.mu.Unlock()
	return a.stats.s
}

// Run handshakes with addr every interval until ctx ends, as an agent reconnecting does
// (antrea-agent retries every 5 s; tests use less). Outcomes are in Stats.
func (a *AgentClient) Run(ctx context.Context, addr string, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		_ = a.Handshake(addr)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *AgentClient) handshake(addr string) error {
	a.mu.RLock()
	pool := a.pool
	a.mu.RUnlock()
	if pool == nil {
		return ErrNoCA
	}
	dialer := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: 5 * time.Second},
		Config:    &tls.Config{RootCAs: pool, ServerName: a.serverName, MinVersion: tls.VersionTLS12},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("tls handshake with %s as %s: %w", addr, a.serverName, err)
	}
	return conn.Close()
}

// WatchConfigMap keeps the client's CA equal to ConfigMap <namespace>/<name> key ca.crt, the way
// antrea-agent's dynamic CA from ConfigMap does: an informer restricted to that one ConfigMap
// reloads the bundle on every add and update; a missing, empty or unparsable ca.crt keeps the last
// good bundle. It returns once the informer has synced (the current content, if any, is loaded)
// and stops when ctx ends.
func (a *AgentClient) WatchConfigMap(ctx context.Context, cs kubernetes.Interface, namespace, name string) error {
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0,
		informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}))
	inf := factory.Core().V1().ConfigMaps().Informer()
	load := func(obj any) {
		if cm, ok := obj.(*corev1.ConfigMap); ok && cm.Data[CAKey] != "" {
			_ = a.SetCA([]byte(cm.Data[CAKey]))
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    load,
		UpdateFunc: func(_, obj any) { load(obj) },
	}); err != nil {
		return fmt.Errorf("watching configmap %s/%s: %w", namespace, name, err)
	}
	factory.Start(ctx.Done())
	if !toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return fmt.Errorf("watching configmap %s/%s: informer did not sync: %w", namespace, name, ctx.Err())
	}
	return nil
}
