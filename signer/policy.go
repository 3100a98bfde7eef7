package signer

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultMinDuration applies when Policy.MinDuration is 0: shorter certificates
	// would have cert-manager renewing almost continuously.
	DefaultMinDuration = time.Hour
	// AntreaMaxDuration is the CA/Browser Forum's historical 397-day cap: it admits the
	// one-year certificates people ask for and refuses multi-year leaves.
	AntreaMaxDuration = 397 * 24 * time.Hour
	// DefaultClusterDomain is Kubernetes' default cluster domain.
	DefaultClusterDomain = "cluster.local"
	// antreaServiceName is the name of Antrea's Service, the common name in Antrea's
	// documented cert-manager Certificate.
	antreaServiceName = "antrea"
)

// caKeyUsages are the key usages only a CA certificate carries.
const caKeyUsages = x509.KeyUsageCertSign | x509.KeyUsageCRLSign

// Policy decides which requests an issuer signs.
type Policy struct {
	// DNSNames are exact names or patterns whose '*' labels match exactly one DNS label.
	// Matching is ASCII case-insensitive. Requested names with a trailing dot, empty
	// labels, non-ASCII characters or a '*' are violations (the last unless AllowWildcards
	// and a pattern grants the wildcard); an xn-- label is never matched by a '*'.
	DNSNames []string
	// CommonNames are the allowed subject CNs, same syntax; empty means DNSNames. An
	// empty CN is always allowed.
	CommonNames []string
	// DNSNamesOptional lets a request carry no DNS name when it names itself otherwise (a
	// common name, an IP address, a URI or an email address, each as the policy allows). The
	// zero value keeps the strict rule: every request carries at least one DNS name.
	DNSNamesOptional    bool
	AllowIPAddresses    bool
	AllowURIs           bool
	AllowEmailAddresses bool
	AllowWildcards      bool
	// KeyUsages and ExtKeyUsages are the allowed sets; requesting a subset is fine. They may
	// hold every usage, but cert sign and CRL sign are never signed (this issuer signs only
	// leaf certificates), whatever they hold.
	KeyUsages    x509.KeyUsage
	ExtKeyUsages []x509.ExtKeyUsage
	MinDuration  time.Duration // 0 means DefaultMinDuration
	MaxDuration  time.Duration // 0 means no maximum (Sign still stops at the CA's expiry)
}

// AntreaPolicy allows exactly the certificate Antrea's controller serves: DNS names
// antrea.<ns>.svc and antrea.<ns>.svc.<clusterDomain> (clusterDomain defaults to
// cluster.local), at least one of them required; as common name one of those or "antrea",
// the Service's name, which Antrea's documented Certificate uses; key usages digital signature
// and key encipherment, server auth, no IP, URI, email or wildcard SANs, a duration between 1
// hour and 397 days.
func AntreaPolicy(namespace, clusterDomain string) Policy {
	if clusterDomain == "" {
		clusterDomain = DefaultClusterDomain
	}
	clusterDomain = strings.TrimSuffix(clusterDomain, ".")
	svc := "antrea." + namespace + ".svc"
	return Policy{
		DNSNames:     []string{svc, svc + "." + clusterDomain},
		CommonNames:  []string{antreaServiceName, svc, svc + "." + clusterDomain},
		KeyUsages:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		MinDuration:  DefaultMinDuration,
		MaxDuration:  AntreaMaxDuration,
	}
}

// Violation is one reason a request is refused. Reason is a complete phrase that names
// the value, so PolicyError can list reasons as they are.
type Violation struct {
	// Field is the template field (isCA, commonName, dnsNames, identity, ipAddresses, uris,
	// emailAddresses, keyUsages, extKeyUsages, duration) or, from RequestViolations, the part
	// of the request (subject, subjectAltNames, extensions, basicConstraints, nameConstraints).
	Field  string
	Value  string // the offending value, "" when the problem is an absence
	Reason string
}

// PolicyError lists every violation of a request at once, so an operator fixes the
// Certificate in one go instead of one rejection at a time. Violations holds them all; the
// message names the first maxListedViolations and stays under maxPolicyMessage bytes.
type PolicyError struct {
	Violations []Violation
}

// A request can carry thousands of names (a CSR of 36 KB holds 8000), and the message lands in
// the CertificateRequest's status, its events and the logs: unbounded, one request made a
// 300 KB condition message. issuer-lib repeats it in an Event, whose note the API server limits
// to 1 kB (longer, the event is rejected): the message stays under maxPolicyMessage bytes, names
// what fits of the first maxListedViolations, gives each list of allowed values once, and says
// how many violations it could not name.
const (
	maxListedViolations = 20
	maxPolicyMessage    = 960 // issuer-lib's event prefixes 47 bytes
)

func (e *PolicyError) Error() string {
	prefix := ErrPolicyViolation.Error() + ": "
	// Room for "; and N more violations" whatever N is.
	reserve := len(fmt.Sprintf("; and %d more violations", len(e.Violations)))
	var b strings.Builder
	b.WriteString(prefix)
	listed := 0
	said := map[string]bool{} // "(allowed: …)" lists already in the message: each is said once
	for _, v := range e.Violations {
		sep := "; "
		if listed == 0 {
			sep = ""
		}
		reason := v.Reason
		if i := strings.LastIndex(reason, " (allowed: "); i >= 0 && strings.HasSuffix(reason, ")") {
			if said[reason[i:]] {
				reason = reason[:i]
			} else {
				said[reason[i:]] = true
			}
		}
		if listed == maxListedViolations || b.Len()+len(sep)+len(reason)+reserve > maxPolicyMessage {
			break
		}
		b.WriteString(sep + reason)
		listed++
	}
	if listed == 0 && len(e.Violations) > 0 {
		// One reason longer than the limit (long patterns): cut it; reasons quote names as ASCII.
		r := e.Violations[0].Reason
		b.WriteString(r[:max(0, maxPolicyMessage-b.Len()-reserve-len(" [truncated]"))] + " [truncated]")
		listed = 1
	}
	if more := len(e.Violations) - listed; more > 0 {
		fmt.Fprintf(&b, "; and %d more violations", more)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrPolicyViolation) hold.
func (e *PolicyError) Unwrap() error { return ErrPolicyViolation }

func (p Policy) minDuration() time.Duration {
	if p.MinDuration == 0 {
		return DefaultMinDuration
	}
	return p.MinDuration
}

func (p Policy) commonNamePatterns() []string {
	if len(p.CommonNames) == 0 {
		return p.DNSNames
	}
	return p.CommonNames
}

// Evaluate returns nil when the policy allows template, or a *PolicyError listing every
// violation. The requested duration is NotAfter - NotBefore. An invalid policy (see
// Validate) fails closed: a malformed pattern matches nothing.
func (p Policy) Evaluate(template *x509.Certificate) error {
	if template == nil {
		return &PolicyError{Violations: []Violation{{Field: "template", Reason: "there is no certificate request"}}}
	}
	var vs []Violation
	add := func(field, value, format string, args ...any) {
		vs = append(vs, Violation{Field: field, Value: value, Reason: fmt.Sprintf(format, args...)})
	}

	if template.IsCA {
		add("isCA", "true", "a CA certificate was requested; this issuer signs only leaf certificates")
	}
	if cn := template.Subject.CommonName; cn != "" {
		if r := p.nameRefusal(cn, p.commonNamePatterns()); r != "" {
			add("commonName", cn, "common name %s %s", quote(cn), r)
		}
	}
	switch {
	case len(template.DNSNames) > 0:
	case !p.DNSNamesOptional:
		add("dnsNames", "", "no DNS names were requested (allowed: %s)", listOrNone(p.DNSNames))
	case template.Subject.CommonName == "" && len(template.IPAddresses) == 0 && len(template.URIs) == 0 && len(template.EmailAddresses) == 0:
		add("identity", "", "the request names no identity: no common name, DNS name, IP address, URI or email address")
	}
	for _, n := range template.DNSNames {
		if r := p.nameRefusal(n, p.DNSNames); r != "" {
			add("dnsNames", n, "DNS name %s %s", quote(n), r)
		}
	}
	if len(template.IPAddresses) > 0 && !p.AllowIPAddresses {
		ips := make([]string, len(template.IPAddresses))
		for i, ip := range template.IPAddresses {
			ips[i] = ip.String()
		}
		add("ipAddresses", strings.Join(ips, ", "), "IP address SANs are not allowed (requested: %s)", strings.Join(ips, ", "))
	}
	if len(template.URIs) > 0 && !p.AllowURIs {
		uris := make([]string, len(template.URIs))
		for i, u := range template.URIs {
			if u != nil { // (*url.URL)(nil).String panics
				uris[i] = quote(u.String())
			}
		}
		add("uris", strings.Join(uris, ", "), "URI SANs are not allowed (requested: %s)", strings.Join(uris, ", "))
	}
	if len(template.EmailAddresses) > 0 && !p.AllowEmailAddresses {
		emails := make([]string, len(template.EmailAddresses))
		for i, e := range template.EmailAddresses {
			emails[i] = quote(e)
		}
		add("emailAddresses", strings.Join(emails, ", "), "email address SANs are not allowed (requested: %s)", strings.Join(emails, ", "))
	}
	for i := range 63 { // keyUsageBits without its slice: Evaluate runs for every request
		b := x509.KeyUsage(1) << i
		switch {
		case template.KeyUsage&b == 0:
		case b&caKeyUsages != 0:
			add("keyUsages", keyUsageName(b), "key usage %q is reserved for CA certificates; this issuer signs only leaf certificates", keyUsageName(b))
		case p.KeyUsages&b == 0:
			add("keyUsages", keyUsageName(b), "key usage %q is not allowed (allowed: %s)", keyUsageName(b), keyUsageList(p.KeyUsages&^caKeyUsages))
		}
	}
	for _, u := range template.ExtKeyUsage {
		if !slices.Contains(p.ExtKeyUsages, u) {
			add("extKeyUsages", extKeyUsageName(u), "extended key usage %q is not allowed (allowed: %s)", extKeyUsageName(u), extKeyUsageList(p.ExtKeyUsages))
		}
	}
	// Sign never copies unknown usages, so requesting one would silently get less than
	// asked for; refuse instead.
	for _, oid := range template.UnknownExtKeyUsage {
		add("extKeyUsages", oid.String(), "extended key usage %s is not allowed (allowed: %s)", oid, extKeyUsageList(p.ExtKeyUsages))
	}
	d := template.NotAfter.Sub(template.NotBefore)
	switch {
	case d <= 0:
		add("duration", d.String(), "the requested validity (from %s to %s) is not a positive duration", formatTime(template.NotBefore), formatTime(template.NotAfter))
	case d < p.minDuration():
		add("duration", d.String(), "the requested duration %s is shorter than the minimum %s", humanDuration(d), humanDuration(p.minDuration()))
	case p.MaxDuration > 0 && d > p.MaxDuration:
		add("duration", d.String(), "the requested duration %s is longer than the maximum %s", humanDuration(d), humanDuration(p.MaxDuration))
	}

	if len(vs) == 0 {
		return nil
	}
	return &PolicyError{Violations: vs}
}

// nameRefusal returns why name is refused ("is not allowed ..."), or "".
func (p Policy) nameRefusal(name string, patterns []string) string {
	if problem := nameSyntaxProblem(name, p.AllowWildcards); problem != "" {
		return "is not allowed: " + problem
	}
	if !matchesAny(name, patterns) {
		return "is not allowed (allowed: " + listOrNone(patterns) + ")"
	}
	return ""
}

// Validate reports whether the policy itself is sane, listing every problem.
func (p Policy) Validate() error {
	var problems []string
	switch {
	case len(p.DNSNames) > 0:
	case !p.DNSNamesOptional:
		problems = append(problems, "no DNS names are allowed but every request must carry one, so every request would be refused")
	case len(p.CommonNames) == 0 && !p.AllowIPAddresses && !p.AllowURIs && !p.AllowEmailAddresses:
		problems = append(problems, "no DNS names, common names, IP addresses, URIs or email addresses are allowed, so every request would be refused")
	}
	for _, pat := range p.DNSNames {
		if pr := patternProblem(pat); pr != "" {
			problems = append(problems, fmt.Sprintf("DNS name pattern %s is invalid: %s", quote(pat), pr))
		}
	}
	for _, pat := range p.CommonNames {
		if pr := patternProblem(pat); pr != "" {
			problems = append(problems, fmt.Sprintf("common name pattern %s is invalid: %s", quote(pat), pr))
		}
	}
	if p.MinDuration < 0 {
		problems = append(problems, fmt.Sprintf("the minimum duration %s is negative", p.MinDuration))
	}
	if p.MaxDuration < 0 {
		problems = append(problems, fmt.Sprintf("the maximum duration %s is negative", p.MaxDuration))
	}
	if p.MaxDuration > 0 && p.minDuration() > p.MaxDuration {
		problems = append(problems, fmt.Sprintf("the minimum duration %s is longer than the maximum %s", humanDuration(p.minDuration()), humanDuration(p.MaxDuration)))
	}
	for _, b := range keyUsageBits(p.KeyUsages) {
		if _, ok := keyUsageNames[b]; !ok {
			problems = append(problems, fmt.Sprintf("key usage bit %d is unknown", int(b)))
		}
	}
	for _, u := range p.ExtKeyUsages {
		if _, known := extKeyUsageNames[u]; !known {
			problems = append(problems, fmt.Sprintf("extended key usage %d is unknown", int(u)))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return newError(ErrInvalidPolicy, "invalid issuer policy: %s", strings.Join(problems, "; "))
}

// quote escapes non-ASCII and control characters so a look-alike or a newline is visible
// in the message and cannot forge log lines.
func quote(s string) string { return strconv.QuoteToASCII(s) }

// humanDuration prints whole days as days, which is how certificate lifetimes are discussed.
func humanDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= 2*day && d%day == 0 {
		return fmt.Sprintf("%d days", d/day)
	}
	return d.String()
}
