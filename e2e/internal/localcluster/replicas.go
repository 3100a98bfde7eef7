package localcluster

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// LeaderElectionLease is the Lease, in IssuerNamespace, that antrea-issuer replicas elect their
// leader with (cmd/antrea-issuer).
const LeaderElectionLease = "antrea-issuer-leader"

// NewIssuerProcess returns another antrea-issuer process like c.Issuer, not started: the same
// binary, chart arguments and ServiceAccount credentials, followed by extraArgs (later flags
// win). As a second replica of the Deployment it takes part in the leader election.
func (c *Cluster) NewIssuerProcess(log io.Writer, extraArgs ...string) *IssuerProcess {
	if log == nil {
		log = io.Discard
	}
	return &IssuerProcess{
		Binary:     c.Issuer.Binary,
		Kubeconfig: c.Issuer.Kubeconfig,
		Args:       append(append([]string{}, c.Issuer.Args...), extraArgs...),
		Log:        log,
	}
}

// Exited reports whether the process ended by itself (a crash, or a lost leader election),
// rather than through Stop.
func (p *IssuerProcess) Exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// PID is the process id, 0 when not running.
func (p *IssuerProcess) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// MetricsURL is where the running process serves /metrics, "" when metrics are off.
func (p *IssuerProcess) MetricsURL() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.metricsAddr == "0" || p.metricsAddr == "" {
		return ""
	}
	return "http://" + p.metricsAddr + "/metrics"
}

// Metrics returns the process's /metrics page (Prometheus text format).
func (p *IssuerProcess) Metrics(ctx context.Context) (string, error) {
	url := p.MetricsURL()
	if url == "" {
		return "", fmt.Errorf("antrea-issuer runs without metrics: set MetricsBindAddress before Start")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), nil
}

// IsLeader reports whether the process holds the leader Lease, from controller-runtime's
// leader_election_master_status metric (needs MetricsBindAddress).
func (p *IssuerProcess) IsLeader(ctx context.Context) (bool, error) {
	m, err := p.Metrics(ctx)
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(m, "\n") {
		if strings.HasPrefix(line, "leader_election_master_status{") && strings.Contains(line, `name="`+LeaderElectionLease+`"`) {
			return strings.HasSuffix(strings.TrimSpace(line), " 1"), nil
		}
	}
	return false, nil
}

// resolveBindAddress turns "" into "0" (off) and a ":0" port into a free one, so the address
// can be dialled after the process binds it.
func resolveBindAddress(addr string) (string, error) {
	if addr == "" || addr == "0" {
		return "0", nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("metrics bind address %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "0" {
		free, err := FreePort()
		if err != nil {
			return "", err
		}
		port = strconv.Itoa(free)
	}
	return net.JoinHostPort(host, port), nil
}
