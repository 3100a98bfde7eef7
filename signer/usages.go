package signer

import (
	"crypto/x509"
	"fmt"
	"strings"
)

// Usage names follow cert-manager's spelling ("server auth"), which is what operators
// write in Certificate.spec.usages and so what they recognise in a policy error.
var keyUsageNames = map[x509.KeyUsage]string{
	x509.KeyUsageDigitalSignature:  "digital signature",
	x509.KeyUsageContentCommitment: "content commitment",
	x509.KeyUsageKeyEncipherment:   "key encipherment",
	x509.KeyUsageDataEncipherment:  "data encipherment",
	x509.KeyUsageKeyAgreement:      "key agreement",
	x509.KeyUsageCertSign:          "cert sign",
	x509.KeyUsageCRLSign:           "crl sign",
	x509.KeyUsageEncipherOnly:      "encipher only",
	x509.KeyUsageDecipherOnly:      "decipher only",
}

var extKeyUsageNames = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny:                            "any",
	x509.ExtKeyUsageServerAuth:                     "server auth",
	x509.ExtKeyUsageClientAuth:                     "client auth",
	x509.ExtKeyUsageCodeSigning:                    "code signing",
	x509.ExtKeyUsageEmailProtection:                "email protection",
	x509.ExtKeyUsageIPSECEndSystem:                 "ipsec end system",
	x509.ExtKeyUsageIPSECTunnel:                    "ipsec tunnel",
	x509.ExtKeyUsageIPSECUser:                      "ipsec user",
	x509.ExtKeyUsageTimeStamping:                   "timestamping",
	x509.ExtKeyUsageOCSPSigning:                    "ocsp signing",
	x509.ExtKeyUsageMicrosoftServerGatedCrypto:     "microsoft sgc",
	x509.ExtKeyUsageNetscapeServerGatedCrypto:      "netscape sgc",
	x509.ExtKeyUsageMicrosoftCommercialCodeSigning: "microsoft commercial code signing",
	x509.ExtKeyUsageMicrosoftKernelCodeSigning:     "microsoft kernel code signing",
}

// keyUsageBits splits a KeyUsage into its single bits in ascending order.
func keyUsageBits(ku x509.KeyUsage) []x509.KeyUsage {
	var bits []x509.KeyUsage
	for i := 0; i < 63; i++ {
		if b := x509.KeyUsage(1) << i; ku&b != 0 {
			bits = append(bits, b)
		}
	}
	return bits
}

func keyUsageName(b x509.KeyUsage) string {
	if n, ok := keyUsageNames[b]; ok {
		return n
	}
	return fmt.Sprintf("unknown key usage %d", int(b))
}

func extKeyUsageName(u x509.ExtKeyUsage) string {
	if n, ok := extKeyUsageNames[u]; ok {
		return n
	}
	return fmt.Sprintf("unknown extended key usage %d", int(u))
}

func keyUsageList(ku x509.KeyUsage) string {
	var names []string
	for _, b := range keyUsageBits(ku) {
		names = append(names, keyUsageName(b))
	}
	return listOrNone(names)
}

func extKeyUsageList(ekus []x509.ExtKeyUsage) string {
	var names []string
	for _, u := range ekus {
		names = append(names, extKeyUsageName(u))
	}
	return listOrNone(names)
}

func listOrNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}
