package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"antrea.io/antrea-issuer/internal/testenv"
)

// BuildIssuer builds the antrea-issuer binary from this repository into dir.
func BuildIssuer(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "antrea-issuer")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/antrea-issuer")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building antrea-issuer: %w\n%s", err, out)
	}
	return bin, nil
}

// IssuerProcess is the antrea-issuer binary running as its own process.
type IssuerProcess struct {
	Binary     string
	Kubeconfig string
	Args       []string
	// Log receives the process's output.
	Log io.Writer
	// MetricsBindAddress serves /metrics there (for example "127.0.0.1:0" picks a free port;
	// see MetricsURL); empty disables metrics.
	MetricsBindAddress string

	mu          sync.Mutex
	cmd         *exec.Cmd
	done        chan struct{}
	healthAddr  string
	metricsAddr string
}

// Start runs the process and waits until it reports ready.
func (p *IssuerProcess) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return errors.New("antrea-issuer is already running")
	}
	port, err := FreePort()
	if err != nil {
		return err
	}
	p.healthAddr = "127.0.0.1:" + strconv.Itoa(port)
	if p.metricsAddr, err = resolveBindAddress(p.MetricsBindAddress); err != nil {
		return err
	}
	// Later flags win: the local ports and credentials override the chart's.
	args := append(append([]string{}, p.Args...),
		"--kubeconfig", p.Kubeconfig,
		"--metrics-bind-address", p.metricsAddr,
		"--health-probe-bind-address", p.healthAddr,
	)
	cmd := exec.Command(p.Binary, args...)
	cmd.Stdout, cmd.Stderr = p.Log, p.Log
	cmd.Env = append(os.Environ(), "POD_NAMESPACE="+IssuerNamespace)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting antrea-issuer: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-done:
			p.cmd = nil
			return fmt.Errorf("antrea-issuer exited during start-up: %v", cmd.ProcessState)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get("http://" + p.healthAddr + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("antrea-issuer not ready after 60s: %v", err)
		}
	}
}

// Stop ends the process: SIGTERM (graceful, releases its leader lease), or SIGKILL when kill is
// true (a crash: nothing is cleaned up).
func (p *IssuerProcess) Stop(kill bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
	return nil
}

// Running reports whether the process is running.
func (p *IssuerProcess) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// HealthAddress is where the running process serves /healthz and /readyz.
func (p *IssuerProcess) HealthAddress() string { return p.healthAddr }
