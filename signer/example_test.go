package signer_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"antrea.io/antrea-issuer/signer"
)

// The life of an issuer: create the CA Secret, read it back, check a request against the
// Antrea policy and sign it.
func Example() {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

	ca, err := signer.GenerateCA(now, signer.CAOptions{})
	if err != nil {
		panic(err)
	}
	data, err := signer.Generations{Active: ca}.SecretData() // the CA Secret's data
	if err != nil {
		panic(err)
	}

	gens, err := signer.ParseGenerations(data, now)
	if err != nil {
		panic(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	request := &x509.Certificate{
		PublicKey:   key.Public(),
		DNSNames:    []string{"antrea.kube-system.svc", "antrea.kube-system.svc.cluster.local"},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		NotBefore:   now,
		NotAfter:    now.Add(90 * 24 * time.Hour),
	}
	if err := signer.AntreaPolicy("kube-system", "").Evaluate(request); err != nil {
		panic(err)
	}
	res, err := signer.Sign(now, gens.Active, gens.Bundle(), request, signer.SignOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(gens.Phase(), res.Leaf.DNSNames, res.Leaf.NotAfter.Sub(res.Leaf.NotBefore), res.Truncated)
	// Output: Steady [antrea.kube-system.svc antrea.kube-system.svc.cluster.local] 2160h0m0s false
}

func ExamplePolicy_Evaluate() {
	request := &x509.Certificate{
		DNSNames:    []string{"antrea.kube-system.svc", "ANTREA.KUBE-SYSTEM.SVC", "antrea.kube-system.svc.evil.com"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		NotBefore:   time.Unix(0, 0),
		NotAfter:    time.Unix(0, 0).Add(24 * time.Hour),
	}
	err := signer.AntreaPolicy("kube-system", "cluster.local").Evaluate(request)
	var pe *signer.PolicyError
	if errors.As(err, &pe) {
		for _, v := range pe.Violations {
			fmt.Printf("%s %q\n", v.Field, v.Value)
		}
	}
	fmt.Println(err)
	// Output:
	// dnsNames "antrea.kube-system.svc.evil.com"
	// extKeyUsages "client auth"
	// request violates the issuer's policy: DNS name "antrea.kube-system.svc.evil.com" is not allowed (allowed: antrea.kube-system.svc, antrea.kube-system.svc.cluster.local); extended key usage "client auth" is not allowed (allowed: server auth)
}

func ExampleParseGenerations_errors() {
	_, err := signer.ParseGenerations(map[string][]byte{"tls.crt": []byte("not a certificate"), "tls.key": nil}, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	var keyErr *signer.SecretKeyError
	fmt.Println(errors.As(err, &keyErr), keyErr.Keys, errors.Is(err, signer.ErrMalformedPEM))
	fmt.Println(err)
	// Output:
	// true [tls.crt tls.key] true
	// tls.crt/tls.key: CA certificate data is not PEM encoded
}
