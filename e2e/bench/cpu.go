package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/cert-manager/cert-manager/pkg/util/pki"

	"antrea.io/antrea-issuer/e2e/internal/localcluster"
	"antrea.io/antrea-issuer/issuer"
	"antrea.io/antrea-issuer/signer"
)

// runCPU compares the signing cost inside the controller (its antrea_issuer_sign_duration_seconds
// histogram, and the process's whole CPU time per request) with x509.CreateCertificate alone,
// measured here with the same CA and leaf key types (ECDSA P-256 both).
func runCPU(ctx context.Context, b *bench) error {
	const sc = "6 cpu"
	runs := []*controllerRun{}
	if b.throughput != nil {
		for _, r := range b.throughput.runs {
			if r.setting == defaultSetting || r == b.throughput.best {
				runs = append(runs, r)
			}
		}
	} else {
		b.p.step("cpu: one antrea-issuer run with the default flags, N=%d", b.opts.n)
		r, err := b.controllerRun(ctx, defaultSetting, crRunOptions{mode: modeController, n: b.opts.n, concurrency: b.opts.concurrency})
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}

	b.p.step("cpu: x509.CreateCertificate alone and the sign path in this process")
	floor, path, err := measureSignFloor()
	if err != nil {
		return err
	}
	b.r.add(sc, "x509.CreateCertificate alone (ECDSA P-256 CA and leaf), this process", ms(floor), "", "the floor")
	b.r.add(sc, "issuer's sign path in this process (CSR parse+check, template, request policy, signer.Sign)", ms(path),
		"", fmt.Sprintf("%.1f × floor", float64(path)/float64(floor)))
	for _, r := range runs {
		mean := r.sign.mean()
		b.r.add(sc, fmt.Sprintf("Sign inside antrea-issuer, %s (histogram mean over %.0f)", r.setting.Name, r.sign.count),
			ms(mean), "", fmt.Sprintf("%.1f × floor", float64(mean)/float64(floor)))
		perCR := r.cpu / time.Duration(max(r.controller.ready, 1))
		b.r.add(sc, fmt.Sprintf("antrea-issuer process CPU per request, %s", r.setting.Name), ms(perCR),
			"", fmt.Sprintf("%.1f × floor", float64(perCR)/float64(floor)))
	}
	b.r.section(sc)
	return nil
}

// measureSignFloor times x509.CreateCertificate alone and the issuer's whole signing path (what
// issuer/sign.go does between reading the request and returning the chain) in this process.
func measureSignFloor() (floor, path time.Duration, err error) {
	now := time.Now()
	ca, err := signer.GenerateCA(now, signer.CAOptions{KeyAlgorithm: signer.ECDSAP256})
	if err != nil {
		return 0, 0, err
	}
	csrs, err := makeCSRs("cpu", 1)
	if err != nil {
		return 0, 0, err
	}
	// The policy the bench issuer signs with, resolved as the issuer resolves it.
	cfg, err := issuer.ResolveConfig(benchIssuer(), localcluster.IssuerNamespace)
	if err != nil {
		return 0, 0, err
	}
	policy := cfg.Policy
	signPath := func() (*signer.Result, error) {
		csr, err := pki.DecodeX509CertificateRequestBytes(csrs[0])
		if err != nil {
			return nil, err
		}
		if err := csr.CheckSignature(); err != nil {
			return nil, err
		}
		tmpl, err := pki.CertificateTemplateFromCSR(csr,
			pki.CertificateTemplateOverrideDuration(90*24*time.Hour),
			pki.CertificateTemplateValidateAndOverrideBasicConstraints(false, nil),
			pki.CertificateTemplateValidateAndOverrideKeyUsages(x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment,
				[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}))
		if err != nil {
			return nil, err
		}
		if err := policy.EvaluateRequest(csr, tmpl); err != nil {
			return nil, err
		}
		return signer.Sign(now, ca, signer.Bundle{}, tmpl, signer.SignOptions{})
	}
	res, err := signPath()
	if err != nil {
		return 0, 0, fmt.Errorf("sign path: %w", err)
	}
	floor, err = timeOp(func() error {
		_, err := x509.CreateCertificate(rand.Reader, res.Leaf, ca.Cert, res.Leaf.PublicKey, ca.Key)
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	path, err = timeOp(func() error { _, err := signPath(); return err })
	return floor, path, err
}

// timeOp runs op repeatedly for about a second (after a short warm-up) and returns the mean time
// per call.
func timeOp(op func() error) (time.Duration, error) {
	for range 20 {
		if err := op(); err != nil {
			return 0, err
		}
	}
	n := 0
	start := time.Now()
	for time.Since(start) < time.Second {
		if err := op(); err != nil {
			return 0, err
		}
		n++
	}
	return time.Since(start) / time.Duration(n), nil
}
