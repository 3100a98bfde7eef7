package testenv

import (
	"fmt"
	"os"
	"path/filepath"
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

// StopAPIServer stops kube-apiserver gracefully (SIGTERM); etcd keeps running.
func (e *Env) StopAPIServer() error { return e.env.ControlPlane.GetAPIServer().Stop() }

// StartAPIServer starts kube-apiserver again on the same address, with the same certificates
// and ServiceAccount signing key, and waits until it is healthy.
func (e *Env) StartAPIServer() error { return e.env.ControlPlane.GetAPIServer().Start() }

// RestartControlPlane stops kube-apiserver and etcd, then starts them again on the same
// addresses and with the same data, certificates and keys, as a control plane upgrade or a
// node reboot would. Clients that were connected reconnect by themselves.
func (e *Env) RestartControlPlane() (Outage, error) {
	cp := &e.env.ControlPlane
	start := time.Now()
	if err := cp.GetAPIServer().Stop(); err != nil {
		return Outage{}, fmt.Errorf("stopping kube-apiserver: %w", err)
	}
	if err := cp.Etcd.Stop(); err != nil {
		return Outage{}, fmt.Errorf("stopping etcd: %w", err)
	}
	stopped := time.Now()
	if err := cp.Etcd.Start(); err != nil {
		return Outage{}, fmt.Errorf("starting etcd: %w", err)
	}
	if err := cp.GetAPIServer().Start(); err != nil {
		return Outage{}, fmt.Errorf("starting kube-apiserver: %w", err)
	}
	return Outage{Stopping: stopped.Sub(start), Starting: time.Since(stopped)}, nil
}
