package signer

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
)

// What a certificate from this issuer can carry, checked on the request itself. crypto/x509
// parses a CSR carrying an otherName SAN, an unknown extension or an unusual subject attribute
// without complaint and a template built from it simply lacks them, so a certificate signed from
// that template would be less than what was asked for, in silence. RequestViolations names each
// such item so the request is refused instead, as unknown extended key usages already are.

var (
	oidSubjectAltName  = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidKeyUsage        = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage     = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidNameConstraints = asn1.ObjectIdentifier{2, 5, 29, 30}
)

// copiedSubjectAttributes are the attributes pkix.Name models, i.e. what Sign copies, by the
// short names pkix.Name.String, openssl and cert-manager's literalSubject use.
var copiedSubjectAttributes = map[string]string{
	"2.5.4.3":  "CN",
	"2.5.4.6":  "C",
	"2.5.4.10": "O",
	"2.5.4.11": "OU",
	"2.5.4.7":  "L",
	"2.5.4.8":  "ST",
	"2.5.4.9":  "STREET",
	"2.5.4.17": "POSTALCODE",
	"2.5.4.5":  "SERIALNUMBER",
}

const copiedSubjectList = "CN, C, O, OU, L, ST, STREET, POSTALCODE and SERIALNUMBER"

// otherSubjectAttributes name a few attributes real requests carry, for messages only.
var otherSubjectAttributes = map[string]string{
	"1.2.840.113549.1.9.1":       "emailAddress",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
	"2.5.4.4":                    "SN",
	"2.5.4.12":                   "title",
	"2.5.4.42":                   "GN",
	"2.5.4.97":                   "organizationIdentifier",
}

// extensionNames name extensions a CSR may carry, for messages only.
var extensionNames = map[string]string{
	"2.5.29.14":               "subject key identifier",
	"2.5.29.18":               "issuer alternative name",
	"2.5.29.30":               "name constraints",
	"2.5.29.31":               "CRL distribution points",
	"2.5.29.32":               "certificate policies",
	"2.5.29.35":               "authority key identifier",
	"2.5.29.36":               "policy constraints",
	"1.3.6.1.5.5.7.1.1":       "authority information access",
	"1.3.6.1.5.5.7.1.24":      "TLS feature (OCSP must-staple)",
	"1.3.6.1.4.1.11129.2.4.2": "signed certificate timestamps",
}

// otherNameTypes name the otherName types seen in practice, for messages only.
var otherNameTypes = map[string]string{
	"1.3.6.1.4.1.311.20.2.3": "user principal name",
	"1.3.6.1.5.5.7.8.9":      "SmtpUTF8Mailbox",
}

// GeneralName CHOICE tags (RFC 5280, 4.2.1.6). crypto/x509 reads only rfc822Name, dNSName,
// uniformResourceIdentifier and iPAddress, and only in their primitive encoding; it skips
// every other GeneralName without an error.
const (
	generalNameOther        = 0
	generalNameEmail        = 1
	generalNameDNS          = 2
	generalNameX400         = 3
	generalNameDirectory    = 4
	generalNameEDIParty     = 5
	generalNameURI          = 6
	generalNameIP           = 7
	generalNameRegisteredID = 8
)

const (
	supportedSANKinds   = "DNS name, IP address, URI and email address"
	supportedExtensions = "subject alternative names, key usage, extended key usage and basic constraints CA:FALSE"
)

var generalNameKinds = map[int]string{
	generalNameOther:        "otherName",
	generalNameX400:         "x400Address",
	generalNameDirectory:    "directoryName",
	generalNameEDIParty:     "ediPartyName",
	generalNameRegisteredID: "registeredID",
}

// RequestViolations lists what csr asks for that a certificate from this issuer would not
// carry, whatever the policy: subject attributes Sign does not copy (anything but CN, C, O, OU,
// L, ST, STREET, POSTALCODE and SERIALNUMBER, a value that is not a string, a second CN or
// SERIALNUMBER), SANs other than DNS names, IP addresses, URIs and email addresses (otherName,
// x400Address, directoryName, ediPartyName, registeredID), extensions other than subject
// alternative names, key usage, extended key usage and basic constraints, basic constraints
// asking for a CA or a path length. It returns nil when there is nothing to refuse.
//
// Call it on a parsed CSR whose signature was checked, before or alongside Policy.Evaluate of the
// template built from it (Policy.EvaluateRequest does both). The key usage and extended key
// usage extensions are not read here: cert-manager checks them against the request's usages and
// Policy.Evaluate checks those, unknown extended key usages included.
func RequestViolations(csr *x509.CertificateRequest) []Violation {
	if csr == nil {
		return []Violation{{Field: "request", Reason: "there is no certificate request"}}
	}
	var vs []Violation
	if len(csr.RawSubject) > 0 {
		_, subjectVs := parseSubject(csr.RawSubject)
		vs = append(vs, subjectVs...)
	}
	// x509.ParseCertificateRequest refuses a request carrying an extension twice.
	for _, ext := range csr.Extensions {
		oid := ext.Id.String()
		switch {
		case ext.Id.Equal(oidSubjectAltName):
			vs = append(vs, sanViolations(ext.Value)...)
		case ext.Id.Equal(oidKeyUsage), ext.Id.Equal(oidExtKeyUsage):
		case ext.Id.Equal(oidBasicConstraints):
			vs = append(vs, basicConstraintsViolations(ext.Value)...)
		case ext.Id.Equal(oidNameConstraints):
			vs = append(vs, Violation{Field: "nameConstraints", Value: oid,
				Reason: "name constraints were requested; they apply only to CA certificates and this issuer signs only leaf certificates"})
		default:
			vs = append(vs, Violation{Field: "extensions", Value: oid,
				Reason: fmt.Sprintf("the extension %s is not supported: this issuer puts only %s in a certificate", extensionName(ext.Id), supportedExtensions)})
		}
	}
	return vs
}

// EvaluateRequest is RequestViolations(csr) followed by Evaluate(template), in one
// *PolicyError, for a template built from csr. A violation of the template with the same
// Field and Value as one of the request (a CA asked for in both, say) is listed once.
func (p Policy) EvaluateRequest(csr *x509.CertificateRequest, template *x509.Certificate) error {
	vs := RequestViolations(csr)
	if err := p.Evaluate(template); err != nil {
		var pe *PolicyError
		if !errors.As(err, &pe) {
			return err
		}
		for _, v := range pe.Violations {
			if !containsViolation(vs, v) {
				vs = append(vs, v)
			}
		}
	}
	if len(vs) == 0 {
		return nil
	}
	return &PolicyError{Violations: vs}
}

func containsViolation(vs []Violation, v Violation) bool {
	for _, w := range vs {
		if w.Field == v.Field && w.Value == v.Value {
			return true
		}
	}
	return false
}

// parseSubject parses a DER subject and lists what Sign would not copy verbatim into a
// certificate the policy has vetted: an attribute pkix.Name does not model, a value that is not
// a string (pkix.Name skips it, so the policy never sees it), more than one CN (the policy
// checks one) or SERIALNUMBER (pkix.Name keeps one).
func parseSubject(raw []byte) (pkix.RDNSequence, []Violation) {
	var rdns pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &rdns); err != nil || len(rest) > 0 {
		return nil, []Violation{{Field: "subject", Reason: "the subject does not parse as an X.501 name"}}
	}
	var vs []Violation
	var cns, serials []string
	for _, rdn := range rdns {
		for _, atv := range rdn {
			oid := atv.Type.String()
			short, copied := copiedSubjectAttributes[oid]
			value, isString := atv.Value.(string)
			shown := ""
			if isString {
				shown = " " + quote(value)
			}
			switch {
			case !copied:
				vs = append(vs, Violation{Field: "subject", Value: oid,
					Reason: fmt.Sprintf("the subject attribute %s%s is not supported: this issuer copies only %s into a certificate", subjectAttributeName(oid), shown, copiedSubjectList)})
			case !isString:
				vs = append(vs, Violation{Field: "subject", Value: oid,
					Reason: fmt.Sprintf("the subject attribute %s (%s) does not hold a string", short, oid)})
			case short == "CN":
				cns = append(cns, value)
			case short == "SERIALNUMBER":
				serials = append(serials, value)
			}
		}
	}
	if len(cns) > 1 {
		vs = append(vs, Violation{Field: "commonName", Value: strings.Join(cns, ", "),
			Reason: fmt.Sprintf("the subject holds %d common names (%s); a certificate from this issuer carries at most one, the one the policy checks", len(cns), quoteAll(cns))})
	}
	if len(serials) > 1 {
		vs = append(vs, Violation{Field: "subject", Value: strings.Join(serials, ", "),
			Reason: fmt.Sprintf("the subject holds %d serial numbers (%s); a certificate from this issuer carries at most one", len(serials), quoteAll(serials))})
	}
	return rdns, vs
}

// sanViolations lists the GeneralNames of a subjectAltName extension that crypto/x509 would
// skip, and so that would be missing from the certificate.
func sanViolations(value []byte) []Violation {
	var names []asn1.RawValue
	if rest, err := asn1.Unmarshal(value, &names); err != nil || len(rest) > 0 {
		return []Violation{{Field: "subjectAltNames", Reason: "the subject alternative name extension does not parse"}}
	}
	var vs []Violation
	for _, n := range names {
		kind, detail := "", ""
		switch {
		case n.Class != asn1.ClassContextSpecific:
			kind = fmt.Sprintf("of an unknown kind (ASN.1 class %d, tag %d)", n.Class, n.Tag)
		case n.Tag == generalNameEmail || n.Tag == generalNameDNS || n.Tag == generalNameURI || n.Tag == generalNameIP:
			if !n.IsCompound {
				continue // read by crypto/x509 and evaluated by the policy
			}
			kind = fmt.Sprintf("with a constructed encoding of tag %d, which crypto/x509 does not read", n.Tag)
		case n.Tag == generalNameOther:
			kind, detail = "otherName", otherNameDetail(n.Bytes)
		case n.Tag == generalNameDirectory:
			kind = "directoryName"
			var dn pkix.RDNSequence
			if rest, err := asn1.Unmarshal(n.Bytes, &dn); err == nil && len(rest) == 0 {
				detail = quote(dn.String())
			}
		case n.Tag == generalNameRegisteredID:
			kind = "registeredID"
			var oid asn1.ObjectIdentifier
			if der, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagOID, Bytes: n.Bytes}); err == nil {
				if _, err := asn1.Unmarshal(der, &oid); err == nil {
					detail = oid.String()
				}
			}
		case generalNameKinds[n.Tag] != "":
			kind = generalNameKinds[n.Tag]
		default:
			kind = fmt.Sprintf("of an unknown kind (tag %d)", n.Tag)
		}
		what := strings.TrimSpace(kind + " " + detail)
		vs = append(vs, Violation{Field: "subjectAltNames", Value: what,
			Reason: fmt.Sprintf("the subject alternative name %s is not supported: this issuer puts only %s SANs in a certificate", what, supportedSANKinds)})
	}
	return vs
}

// otherNameDetail renders an otherName's content (type-id, [0] EXPLICIT value) as
// `1.3.6.1.4.1.311.20.2.3 (user principal name) "alice@example.com"`, as far as it parses.
func otherNameDetail(content []byte) string {
	var typeID asn1.ObjectIdentifier
	rest, err := asn1.Unmarshal(content, &typeID)
	if err != nil {
		return ""
	}
	detail := typeID.String()
	if name, ok := otherNameTypes[detail]; ok {
		detail += " (" + name + ")"
	}
	var wrapped asn1.RawValue
	if _, err := asn1.Unmarshal(rest, &wrapped); err == nil && wrapped.Class == asn1.ClassContextSpecific && wrapped.Tag == 0 {
		var s string
		if _, err := asn1.Unmarshal(wrapped.Bytes, &s); err == nil {
			detail += " " + quote(s)
		}
	}
	return detail
}

// basicConstraintsViolations refuses what only a CA certificate carries: CA:TRUE or a path
// length. A plain CA:FALSE (cert-manager can send one) is fine: every leaf carries it.
func basicConstraintsViolations(value []byte) []Violation {
	var bc struct {
		IsCA       bool `asn1:"optional"`
		MaxPathLen int  `asn1:"optional,default:-1"`
	}
	if rest, err := asn1.Unmarshal(value, &bc); err != nil || len(rest) > 0 {
		return []Violation{{Field: "basicConstraints", Reason: "the basic constraints extension does not parse"}}
	}
	var vs []Violation
	if bc.IsCA {
		vs = append(vs, Violation{Field: "isCA", Value: "true",
			Reason: "a CA certificate was requested (basic constraints CA:TRUE in the CSR); this issuer signs only leaf certificates"})
	}
	if bc.MaxPathLen >= 0 {
		vs = append(vs, Violation{Field: "basicConstraints", Value: fmt.Sprint(bc.MaxPathLen),
			Reason: fmt.Sprintf("a path length constraint (%d) was requested; it applies only to CA certificates and this issuer signs only leaf certificates", bc.MaxPathLen)})
	}
	return vs
}

func extensionName(oid asn1.ObjectIdentifier) string {
	if name, ok := extensionNames[oid.String()]; ok {
		return name + " (" + oid.String() + ")"
	}
	return oid.String()
}

func subjectAttributeName(oid string) string {
	if name, ok := otherSubjectAttributes[oid]; ok {
		return name + " (" + oid + ")"
	}
	return oid
}

func quoteAll(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = quote(v)
	}
	return strings.Join(quoted, ", ")
}
