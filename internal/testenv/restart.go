package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// fixControlPlaneDirs gives the API server and etcd directories under dir that survive a stop:
// the API server keeps its serving certificate, client CA and ServiceAccount signing key (so
// existing kubeconfigs and tokens keep working after a restart) and etcd keeps its data.
// envtest reuses the ports it picked on the first start.
func fixControlPlaneDirs(te *envtest.Environment, dir string) error {
	certDir, dataDir := filepath.Join(dir, "kube-apiserver"), filepath.Join(dir, "etcd")
	for _, d := range []string{certDir, dataDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	te.ControlPlane.GetAPIServer().CertDir = certDir
	if te.ControlPlane.Etcd == nil {
		te.ControlPlane.Etcd = &envtest.Etcd{}
	}
	te.ControlPlane.Etcd.DataDir = dataDir
	return nil
}

// Outage is what RestartControlPlane measured.
type Outage struct {
	// Stopping is the time the API server and etcd took to stop, Starting the time until the
	// API server answered its health check again.
	Stopping, Starting time.Duration
}

// Down is how long the API server did not serve: from the start of its shutdown until it was
// healthy again.
func (o Outage) Down() time.Duration { return o.Stopping + o.Starting }

// StopAPIServer stops kube-apiserver as a kubelet stops a Pod: SIGTERM, then SIGKILL after grace.
// kube-apiserver stops listening at once on SIGTERM but can take a minute to exit while watches
// stay open (here: every controller's); clients see the outage from the SIGTERM either way.
// etcd keeps running.
func (e *Env) StopAPIServer(grace time.Duration) error {
	as := e.env.ControlPlane.GetAPIServer()
	pid, err := pidWithArg("--cert-dir=" + as.CertDir)
	if err != nil {
		return err
	}
	stopped := make(chan error, 1)
	go func() { stopped <- as.Stop() }()
	select {
	case err := <-stopped:
		return err
	case <-time.After(grace):
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing kube-apiserver (pid %d): %w", pid, err)
	}
	return <-stopped // envtest sees the process exit
}

// StartAPIServer starts kube-apiserver again on the same address, with the same certificates
// and ServiceAccount signing key, and waits until it is healthy.
func (e *Env) StartAPIServer() error { return e.env.ControlPlane.GetAPIServer().Start() }

// RestartControlPlane stops kube-apiserver (see StopAPIServer) and etcd, then starts them again
// on the same addresses and with the same data, certificates and keys, as a control plane upgrade
// or a node reboot would. Clients that were connected reconnect by themselves.
func (e *Env) RestartControlPlane(grace time.Duration) (Outage, error) {
	cp := &e.env.ControlPlane
	start := time.Now()
	if err := e.StopAPIServer(grace); err != nil {
		return Outage{}, fmt.Errorf("stopping kube-apiserver: %w", err)
	}
	if err := cp.Etcd.Stop(); err != nil {
		return Outage{}, fmt.Errorf("stopping etcd: %w", err)
	}
	stopped := time.Now()
	if err := cp.Etcd.Start(); err != nil {
		return Outage{}, fmt.Errorf("starting etcd: %w", err)
	}
	if err := e.StartAPIServer(); err != nil {
		return Outage{}, fmt.Errorf("starting kube-apiserver: %w", err)
	}
	return Outage{Stopping: stopped.Sub(start), Starting: time.Since(stopped)}, nil
}

// pidWithArg finds the process with exactly this command-line argument; the control plane's
// directories are unique to one Env, so this never finds another test's process.
func pidWithArg(arg string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("listing processes: %w", err)
	}
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err != nil {
			continue // gone, or not ours to read
		}
		if slices.Contains(strings.Split(string(cmdline), "\x00"), arg) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no process with argument %s", arg)
}
