// Command demo runs antrea-issuer's whole flow on a local control plane (no cluster, no
// containers) and prints what a user would check: `make demo`.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
	"antrea.io/antrea-issuer/e2e/internal/localcluster"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/signer"
)

func main() {
	keep := flag.Bool("keep", false, "keep the control plane running after the report, and print how to explore it")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *keep, os.Stdout); err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Println("\ninterrupted: stopped everything")
			return
		}
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

type reporter struct {
	out   io.Writer
	start time.Time
	last  time.Time
}

func (r *reporter) step(format string, args ...any) {
	now := time.Now()
	fmt.Fprintf(r.out, "[%5.1fs] %s\n", now.Sub(r.start).Seconds(), fmt.Sprintf(format, args...))
	r.last = now
}

func (r *reporter) line(format string, args ...any) {
	fmt.Fprintf(r.out, "         "+format+"\n", args...)
}

func run(ctx context.Context, keep bool, out io.Writer) error {
	r := &reporter{out: out, start: time.Now()}
	logFile, err := os.CreateTemp("", "antrea-issuer-demo-*.log")
	if err != nil {
		return err
	}
	defer logFile.Close()
	fmt.Fprintln(out, "antrea-issuer demo: a cert-manager Certificate for Antrea's controller, signed by an")
	fmt.Fprintln(out, "AntreaClusterIssuer, trusted by Antrea's clients. Everything runs on this machine.")
	fmt.Fprintln(out)

	c, err := localcluster.Start(ctx, localcluster.Options{Log: logFile, Progress: func(s string) { r.step("%s", s) }})
	if err != nil {
		return fmt.Errorf("%w (antrea-issuer's log: %s)", err, logFile.Name())
	}
	defer c.Stop()
	ready := time.Now()
	r.step("ready: control plane, cert-manager controllers, antrea-issuer (log: %s)", logFile.Name())

	sample := filepath.Join(testenv.RepoRoot(), "config", "samples", "antrea-controller-tls.yaml")
	objs, err := localcluster.ReadManifests(sample)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := localcluster.Apply(ctx, c.Env.Client, o); err != nil {
			return err
		}
	}
	applied := time.Now()
	r.step("applied the README's example (%s): AntreaClusterIssuer antrea, Certificate kube-system/antrea-controller-tls", rel(sample))

	iss := &v1alpha1.AntreaClusterIssuer{}
	if err := waitFor(ctx, "the AntreaClusterIssuer to be Ready", func() (bool, error) {
		if err := c.Env.Client.Get(ctx, client.ObjectKey{Name: "antrea"}, iss); err != nil {
			return false, err
		}
		cond := meta.FindStatusCondition(iss.Status.Conditions, "Ready")
		return cond != nil && cond.Status == "True" && iss.Status.CA != nil && iss.Status.CA.Active != nil, nil
	}); err != nil {
		return err
	}
	r.step("AntreaClusterIssuer antrea is Ready after %s", since(applied))
	r.line("CA %s, expires %s, kept in Secret %s/%s", iss.Status.CA.Active.Subject,
		iss.Status.CA.Active.NotAfter.UTC().Format(time.RFC3339), localcluster.IssuerNamespace, iss.Status.CA.SecretName)

	crt := &cmapi.Certificate{}
	key := client.ObjectKey{Namespace: antreasim.Namespace, Name: antreasim.SecretName}
	if err := waitFor(ctx, "the Certificate to be Ready", func() (bool, error) {
		if err := c.Env.Client.Get(ctx, key, crt); err != nil {
			return false, err
		}
		for _, cond := range crt.Status.Conditions {
			if cond.Type == cmapi.CertificateConditionReady && cond.Status == cmmeta.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		return err
	}
	r.step("Certificate kube-system/antrea-controller-tls is Ready after %s", since(applied))

	secret := &corev1.Secret{}
	if err := c.Env.Client.Get(ctx, key, secret); err != nil {
		return err
	}
	chain, err := parseCerts(secret.Data["tls.crt"])
	if err != nil {
		return err
	}
	leaf := chain[0]
	r.line("Secret kube-system/antrea-controller-tls (%s): keys %s", secret.Type, strings.Join(sortedKeys(secret.Data), ", "))
	r.line("subject   %s", leaf.Subject)
	r.line("DNS names %s", strings.Join(leaf.DNSNames, ", "))
	r.line("usages    %s", usages(leaf))
	r.line("valid     %s .. %s", leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	for i, cert := range chain {
		r.line("chain[%d]  %s  <- issued by %s", i, cert.Subject, cert.Issuer)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(secret.Data["ca.crt"])
	for _, name := range []string{"antrea.kube-system.svc", "antrea.kube-system.svc.cluster.local"} {
		_, verr := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		r.line("verifies against ca.crt for %-38s %s", name+":", okOrErr(verr))
	}
	caSum := fingerprint(secret.Data["ca.crt"])

	if err := waitFor(ctx, "antrea-ca and the caBundles to carry ca.crt", func() (bool, error) {
		cm := &corev1.ConfigMap{}
		if err := c.Env.Client.Get(ctx, client.ObjectKey{Namespace: antreasim.Namespace, Name: antreasim.CAConfigMapName}, cm); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		if cm.Data["ca.crt"] != string(secret.Data["ca.crt"]) {
			return false, nil
		}
		for _, name := range antreasim.APIServiceNames() {
			as := &apiregistrationv1.APIService{}
			if err := c.Env.Client.Get(ctx, client.ObjectKey{Name: name}, as); err != nil {
				return false, err
			}
			if !bytes.Equal(as.Spec.CABundle, secret.Data["ca.crt"]) || !available(as) {
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		return err
	}
	r.step("CA bundle published %s after the Certificate was applied", since(applied))
	r.line("ConfigMap kube-system/antrea-ca ca.crt   sha256 %s (same bytes as the Secret's ca.crt)", caSum)
	for _, name := range antreasim.APIServiceNames() {
		r.line("APIService %-31s caBundle sha256 %s, Available=True (the real aggregator verified the stand-in Antrea server)", name, caSum)
	}
	agent := antreasim.NewAgentClient(antreasim.Namespace)
	if err := agent.SetCA(secret.Data["ca.crt"]); err != nil {
		return err
	}
	var herr error
	for i := 0; i < 50; i++ {
		if herr = agent.Handshake(c.Antrea.Addr()); herr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.line("an agent-style client trusting only antrea-ca, ServerName antrea.kube-system.svc: handshake %s", okOrErr(herr))
	r.step("done: set-up %s, Certificate to trusted by every client %s", ready.Sub(r.start).Round(100*time.Millisecond), since(applied))

	if err := diagnose(ctx, r, c); err != nil {
		return err
	}

	if !keep {
		fmt.Fprintln(out, "\nRun `make demo DEMO_ARGS=-keep` to keep the control plane running and explore it with kubectl.")
		return nil
	}
	// In this run's own folder (removed when the demo stops): two demos never share a kubeconfig.
	kubeconfig := filepath.Join(c.Dir, "admin.kubeconfig")
	if err := testenv.WriteKubeconfig(c.Env.Config, kubeconfig); err != nil {
		return err
	}
	kubectl := filepath.Join(testenv.AssetsDir(), "kubectl")
	fmt.Fprintf(out, "\nThe control plane keeps running until you press Ctrl-C. Explore it with:\n")
	fmt.Fprintf(out, "  export KUBECONFIG=%s\n", kubeconfig)
	for _, cmd := range []string{
		"get antreaclusterissuers -o wide",
		"-n kube-system describe certificate antrea-controller-tls",
		"-n kube-system get certificaterequests",
		"-n kube-system get configmap antrea-ca -o yaml",
		"get apiservices -l app=antrea",
		"-n antrea-issuer get secret antrea-ca -o jsonpath='{.data}'",
	} {
		fmt.Fprintf(out, "  %s %s\n", kubectl, cmd)
	}
	fmt.Fprintf(out, "  %s diagnose\n", c.Issuer.Binary)
	<-ctx.Done()
	fmt.Fprintln(out, "\nstopping")
	return nil
}

// diagnose ends the report with `antrea-issuer diagnose` run against the installation, the same
// binary and command a user runs, with an admin's kubeconfig; anything but a clean bill of
// health fails the demo.
func diagnose(ctx context.Context, r *reporter, c *localcluster.Cluster) error {
	r.step("antrea-issuer diagnose --kubeconfig <admin> (README \"Is it working?\"):")
	cmd := exec.CommandContext(ctx, c.Issuer.Binary, "diagnose", "--kubeconfig", c.Env.KubeconfigPath)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	for _, line := range strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n") {
		r.line("%s", line)
	}
	if err != nil {
		return fmt.Errorf("antrea-issuer diagnose: %w\n%s", err, stderr.String())
	}
	return nil
}

// waitFor polls check for up to two minutes, printing nothing unless it is slow.
func waitFor(ctx context.Context, what string, check func() (bool, error)) error {
	deadline := time.Now().Add(2 * time.Minute)
	var last error
	for {
		ok, err := check()
		if ok {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out waiting for %s (last error: %v)", what, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func available(as *apiregistrationv1.APIService) bool {
	for _, c := range as.Status.Conditions {
		if c.Type == apiregistrationv1.Available {
			return c.Status == apiregistrationv1.ConditionTrue
		}
	}
	return false
}

func parseCerts(data []byte) ([]*x509.Certificate, error) {
	b, err := signer.ParseBundle(data)
	if err != nil {
		return nil, fmt.Errorf("tls.crt: %w", err)
	}
	return b.Certificates(), nil
}

func usages(c *x509.Certificate) string {
	var out []string
	if c.KeyUsage&x509.KeyUsageDigitalSignature != 0 {
		out = append(out, "digital signature")
	}
	if c.KeyUsage&x509.KeyUsageKeyEncipherment != 0 {
		out = append(out, "key encipherment")
	}
	for _, u := range c.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageServerAuth:
			out = append(out, "server auth")
		case x509.ExtKeyUsageClientAuth:
			out = append(out, "client auth")
		default:
			out = append(out, fmt.Sprintf("ext(%d)", u))
		}
	}
	return strings.Join(out, ", ")
}

func fingerprint(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

func okOrErr(err error) string {
	if err != nil {
		return "FAILED: " + err.Error()
	}
	return "ok"
}

func since(t time.Time) time.Duration { return time.Since(t).Round(10 * time.Millisecond) }

func sortedKeys(m map[string][]byte) []string {
	var out []string
	for _, k := range []string{"ca.crt", "tls.crt", "tls.key"} {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

func rel(p string) string {
	if r, err := filepath.Rel(testenv.RepoRoot(), p); err == nil {
		return r
	}
	return p
}
