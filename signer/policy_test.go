package signer

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// request builds a template that AntreaPolicy accepts, then applies mod.
func request(mod func(*x509.Certificate)) *x509.Certificate {
	c := leafTemplate(nil)
	if mod != nil {
		mod(c)
	}
	return c
}

func names(n ...string) func(*x509.Certificate) {
	return func(c *x509.Certificate) { c.DNSNames = n }
}

// policyCase is shared by the name tables: want "" means accepted, otherwise a fragment
// of the refusal.
type policyCase struct {
	names []string
	want  string
}

func runNameCases(t *testing.T, p Policy, tests map[string]policyCase) {
	t.Helper()
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := p.Evaluate(request(names(tc.names...)))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || !errors.Is(err, ErrPolicyViolation) {
				t.Fatalf("err = %v, want a *PolicyError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to contain %q", err, tc.want)
			}
			if pe.Violations[0].Field != "dnsNames" || pe.Violations[0].Value != tc.names[0] {
				t.Errorf("violation %+v does not name the DNS name", pe.Violations[0])
			}
		})
	}
}

func TestAntreaPolicyDNSNames(t *testing.T) {
	t.Parallel()
	const notAllowed = "is not allowed (allowed: antrea.kube-system.svc, antrea.kube-system.svc.cluster.local)"
	runNameCases(t, AntreaPolicy("kube-system", ""), map[string]policyCase{
		"service name":                 {names: []string{antreaSvc}},
		"cluster-local name":           {names: []string{antreaFQDN}},
		"both":                         {names: []string{antreaSvc, antreaFQDN}},
		"upper case (DNS is not case)": {names: []string{"ANTREA.KUBE-SYSTEM.SVC"}},
		"mixed case FQDN":              {names: []string{"Antrea.Kube-System.Svc.Cluster.Local"}},
		"foreign name":                 {names: []string{"evil.example.com"}, want: `DNS name "evil.example.com" ` + notAllowed},
		"suffix appended":              {names: []string{"antrea.kube-system.svc.evil.com"}, want: notAllowed},
		"prefix prepended":             {names: []string{"evil.antrea.kube-system.svc"}, want: notAllowed},
		"FQDN extended":                {names: []string{"antrea.kube-system.svc.cluster.local.evil"}, want: notAllowed},
		"other namespace":              {names: []string{"antrea.default.svc"}, want: notAllowed},
		"allowed then foreign":         {names: []string{"evil.example.com", antreaSvc}, want: `"evil.example.com"`},
		"trailing dot":                 {names: []string{"antrea.kube-system.svc."}, want: "is not allowed: it has a trailing dot"},
		"wildcard":                     {names: []string{"*.kube-system.svc"}, want: "is not allowed: wildcard names are not allowed"},
		"wildcard inside a label":      {names: []string{"antrea.kube-*.svc"}, want: "wildcard names are not allowed"},
		"empty label":                  {names: []string{"antrea..svc"}, want: "it has an empty label"},
		"leading dot":                  {names: []string{".antrea.kube-system.svc"}, want: "it has an empty label"},
		"Kelvin sign for k":            {names: []string{"antrea.\u212aube-system.svc"}, want: `DNS name "antrea.\u212aube-system.svc" is not allowed: it contains non-ASCII`},
		"Cyrillic a":                   {names: []string{"\u0430ntrea.kube-system.svc"}, want: "non-ASCII"},
		"fullwidth dot":                {names: []string{"antrea\uff0ekube-system.svc"}, want: "non-ASCII"},
		"punycode not listed":          {names: []string{"xn--antrea-9ua.kube-system.svc"}, want: notAllowed},
		"NUL byte":                     {names: []string{"antrea.kube-system.svc\x00"}, want: `contains the character '\x00'`},
		"newline":                      {names: []string{"antrea.kube-system.svc\nevil"}, want: `"antrea.kube-system.svc\nevil"`},
		"underscore":                   {names: []string{"antrea_kube-system.svc"}, want: "contains the character '_'"},
		"space":                        {names: []string{"antrea.kube-system.svc "}, want: "contains the character ' '"},
		"leading hyphen":               {names: []string{"-antrea.kube-system.svc"}, want: "starts or ends with a hyphen"},
		"empty":                        {names: []string{""}, want: "it is empty"},
		"too long":                     {names: []string{strings.Repeat("a.", 127) + "svc"}, want: "longer than 253"},
		"label too long":               {names: []string{strings.Repeat("a", 64) + ".svc"}, want: "longer than 63"},
	})
}

func TestPolicyPatterns(t *testing.T) {
	t.Parallel()
	p := AntreaPolicy("kube-system", "")
	p.DNSNames = []string{"antrea.*.svc", "*.example.com", "xn--bcher-kva.example.org", "Upper.Example.NET"}
	runNameCases(t, p, map[string]policyCase{
		"star matches one label":           {names: []string{antreaSvc}},
		"star matches any LDH label":       {names: []string{"antrea.ns-1.svc"}},
		"star is not two labels":           {names: []string{"antrea.a.b.svc"}, want: "is not allowed (allowed:"},
		"star is not zero labels":          {names: []string{"antrea.svc"}, want: "is not allowed (allowed:"},
		"star is not an empty label":       {names: []string{"antrea..svc"}, want: "empty label"},
		"leading star":                     {names: []string{"api.example.com"}},
		"leading star, two labels":         {names: []string{"a.b.example.com"}, want: "is not allowed (allowed:"},
		"leading star, bare domain":        {names: []string{"example.com"}, want: "is not allowed (allowed:"},
		"requested wildcard not allowed":   {names: []string{"*.example.com"}, want: "wildcard names are not allowed"},
		"IDN listed exactly":               {names: []string{"xn--bcher-kva.example.org"}},
		"IDN listed exactly, upper case":   {names: []string{"XN--BCHER-KVA.example.org"}},
		"IDN through a star":               {names: []string{"xn--bcher-kva.example.com"}, want: "is not allowed (allowed:"},
		"IDN through a star, upper case":   {names: []string{"antrea.XN--80AK6AA92E.svc"}, want: "is not allowed (allowed:"},
		"upper-case pattern":               {names: []string{"upper.example.net"}},
		"unicode form of the listed IDN":   {names: []string{"b\u00fccher.example.org"}, want: "non-ASCII"},
		"pattern text is not a name":       {names: []string{"antrea.*.svc"}, want: "wildcard names are not allowed"},
		"suffix after a star pattern":      {names: []string{"antrea.x.svc.evil"}, want: "is not allowed (allowed:"},
		"star does not match across a dot": {names: []string{"antrea.x.y.svc"}, want: "is not allowed (allowed:"},
	})
}

func TestPolicyWildcards(t *testing.T) {
	t.Parallel()
	p := AntreaPolicy("kube-system", "")
	p.DNSNames, p.AllowWildcards = []string{"*.example.com", antreaSvc}, true
	runNameCases(t, p, map[string]policyCase{
		"wildcard granted by a star pattern":   {names: []string{"*.example.com"}},
		"plain name under a star pattern":      {names: []string{"www.example.com"}},
		"wildcard not granted by a plain name": {names: []string{"*.kube-system.svc"}, want: "is not allowed (allowed:"},
		"wildcard not leftmost":                {names: []string{"a.*.example.com"}, want: "a wildcard may only be the leftmost label"},
		"partial-label wildcard":               {names: []string{"w*.example.com"}, want: "a wildcard must be a whole label"},
		"two wildcards":                        {names: []string{"*.*.example.com"}, want: "leftmost"},
	})
}

func TestPolicyEvaluate(t *testing.T) {
	t.Parallel()
	antrea := AntreaPolicy("kube-system", "cluster.local")
	withCN := antrea
	withCN.CommonNames = []string{"antrea"}
	open := antrea
	open.AllowIPAddresses, open.AllowURIs, open.AllowEmailAddresses, open.MaxDuration, open.MinDuration = true, true, true, 0, 0
	// permissive is the most a policy allows: what cert-manager's Certificates express, short
	// of a CA.
	permissive := Policy{
		DNSNames: starPatterns(6), DNSNamesOptional: true, AllowIPAddresses: true, AllowURIs: true, AllowEmailAddresses: true,
		AllowWildcards: true, KeyUsages: everyKeyUsage(), ExtKeyUsages: everyExtKeyUsage(),
	}
	spiffe, _ := url.Parse("spiffe://cluster.local/ns/kube-system/sa/antrea")
	noSANs := func(c *x509.Certificate) { c.DNSNames = nil }
	dur := func(d time.Duration) func(*x509.Certificate) {
		return func(c *x509.Certificate) { c.NotAfter = c.NotBefore.Add(d) }
	}

	tests := map[string]struct {
		policy     Policy
		mod        func(*x509.Certificate)
		nilRequest bool
		want       []Violation // Field and Value only; nil means accepted
	}{
		"antrea request":           {policy: antrea},
		"CN equal to a DNS name":   {policy: antrea, mod: func(c *x509.Certificate) { c.Subject.CommonName = antreaFQDN }},
		"CN antrea (Antrea's doc)": {policy: antrea, mod: func(c *x509.Certificate) { c.Subject.CommonName = "antrea" }},
		"CN antrea, no DNS names":  {policy: antrea, mod: func(c *x509.Certificate) { c.Subject.CommonName, c.DNSNames = "antrea", nil }, want: []Violation{{Field: "dnsNames"}}},
		"CN only, DNS optional":    {policy: permissive, mod: func(c *x509.Certificate) { c.Subject.CommonName, c.DNSNames = "test-common-name-abc", nil }},
		"IP only, DNS optional":    {policy: permissive, mod: func(c *x509.Certificate) { c.DNSNames, c.IPAddresses = nil, []net.IP{net.IPv4(127, 0, 0, 1)} }},
		"URI only, DNS optional":   {policy: permissive, mod: func(c *x509.Certificate) { c.DNSNames, c.URIs = nil, []*url.URL{spiffe} }},
		"email only, DNS optional": {policy: permissive, mod: func(c *x509.Certificate) { c.DNSNames, c.EmailAddresses = nil, []string{"alice@example.com"} }},
		"no identity at all":       {policy: permissive, mod: noSANs, want: []Violation{{Field: "identity"}}},
		"wildcard CN, permissive":  {policy: permissive, mod: func(c *x509.Certificate) { c.Subject.CommonName = "*.x.foo-long.bar.com" }},
		"CN not a host name":       {policy: permissive, mod: func(c *x509.Certificate) { c.Subject.CommonName = "My Service" }, want: []Violation{{Field: "commonName", Value: "My Service"}}},
		"every usage but the CA's": {policy: permissive, mod: func(c *x509.Certificate) {
			c.KeyUsage, c.ExtKeyUsage = everyKeyUsage()&^caKeyUsages, everyExtKeyUsage()
		}},
		"CA usages, even allowed": {
			policy: permissive, mod: func(c *x509.Certificate) { c.KeyUsage = everyKeyUsage() },
			want: []Violation{{Field: "keyUsages", Value: "cert sign"}, {Field: "keyUsages", Value: "crl sign"}},
		},
		"foreign CN":               {policy: antrea, mod: func(c *x509.Certificate) { c.Subject.CommonName = "evil" }, want: []Violation{{Field: "commonName", Value: "evil"}}},
		"CN from CommonNames":      {policy: withCN, mod: func(c *x509.Certificate) { c.Subject.CommonName = "antrea" }},
		"CN only from CommonNames": {policy: withCN, mod: func(c *x509.Certificate) { c.Subject.CommonName = antreaSvc }, want: []Violation{{Field: "commonName", Value: antreaSvc}}},
		"no DNS names":             {policy: antrea, mod: names(), want: []Violation{{Field: "dnsNames"}}},
		"CA requested":             {policy: antrea, mod: func(c *x509.Certificate) { c.IsCA = true }, want: []Violation{{Field: "isCA", Value: "true"}}},
		"IP SAN":                   {policy: antrea, mod: func(c *x509.Certificate) { c.IPAddresses = []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("::1")} }, want: []Violation{{Field: "ipAddresses", Value: "10.0.0.1, ::1"}}},
		"URI SAN":                  {policy: antrea, mod: func(c *x509.Certificate) { c.URIs = []*url.URL{spiffe} }, want: []Violation{{Field: "uris", Value: `"` + spiffe.String() + `"`}}},
		"email SAN":                {policy: antrea, mod: func(c *x509.Certificate) { c.EmailAddresses = []string{"ops@example.com"} }, want: []Violation{{Field: "emailAddresses", Value: `"ops@example.com"`}}},
		"IP, URI, email allowed": {policy: open, mod: func(c *x509.Certificate) {
			c.IPAddresses, c.URIs, c.EmailAddresses = []net.IP{net.IPv4(10, 0, 0, 1)}, []*url.URL{spiffe}, []string{"a@b.c"}
		}},
		"fewer key usages": {policy: antrea, mod: func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageDigitalSignature }},
		"no usages at all": {policy: antrea, mod: func(c *x509.Certificate) { c.KeyUsage, c.ExtKeyUsage = 0, nil }},
		"cert sign usage":  {policy: antrea, mod: func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageCertSign }, want: []Violation{{Field: "keyUsages", Value: "cert sign"}}},
		"client auth":      {policy: antrea, mod: func(c *x509.Certificate) { c.ExtKeyUsage = append(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) }, want: []Violation{{Field: "extKeyUsages", Value: "client auth"}}},
		"code signing and any": {
			policy: antrea, mod: func(c *x509.Certificate) {
				c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning, x509.ExtKeyUsageAny}
			},
			want: []Violation{{Field: "extKeyUsages", Value: "code signing"}, {Field: "extKeyUsages", Value: "any"}},
		},
		"unknown ext key usage":    {policy: antrea, mod: func(c *x509.Certificate) { c.UnknownExtKeyUsage = []asn1.ObjectIdentifier{{1, 2, 3}} }, want: []Violation{{Field: "extKeyUsages", Value: "1.2.3"}}},
		"duration below minimum":   {policy: antrea, mod: dur(59 * time.Minute), want: []Violation{{Field: "duration", Value: "59m0s"}}},
		"duration at minimum":      {policy: antrea, mod: dur(time.Hour)},
		"duration at maximum":      {policy: antrea, mod: dur(AntreaMaxDuration)},
		"duration above maximum":   {policy: antrea, mod: dur(AntreaMaxDuration + time.Second), want: []Violation{{Field: "duration", Value: (AntreaMaxDuration + time.Second).String()}}},
		"zero duration":            {policy: antrea, mod: dur(0), want: []Violation{{Field: "duration", Value: "0s"}}},
		"negative duration":        {policy: antrea, mod: dur(-time.Hour), want: []Violation{{Field: "duration", Value: "-1h0m0s"}}},
		"zero MinDuration is 1h":   {policy: open, mod: dur(30 * time.Minute), want: []Violation{{Field: "duration", Value: "30m0s"}}},
		"zero MaxDuration is none": {policy: open, mod: dur(10 * 365 * day)},
		"nil request":              {policy: antrea, nilRequest: true, want: []Violation{{Field: "template"}}},
		"everything wrong at once": {
			policy: antrea,
			mod: func(c *x509.Certificate) {
				c.IsCA = true
				c.Subject.CommonName = "evil"
				c.DNSNames = []string{"evil.example.com", antreaSvc, "*.kube-system.svc"}
				c.IPAddresses = []net.IP{net.ParseIP("10.0.0.1")}
				c.URIs = []*url.URL{spiffe}
				c.EmailAddresses = []string{"a@b.c"}
				c.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
				c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
				c.NotAfter = c.NotBefore.Add(2 * 365 * day)
			},
			want: []Violation{
				{Field: "isCA", Value: "true"}, {Field: "commonName", Value: "evil"},
				{Field: "dnsNames", Value: "evil.example.com"}, {Field: "dnsNames", Value: "*.kube-system.svc"},
				{Field: "ipAddresses", Value: "10.0.0.1"}, {Field: "uris", Value: `"` + spiffe.String() + `"`}, {Field: "emailAddresses", Value: `"a@b.c"`},
				{Field: "keyUsages", Value: "cert sign"}, {Field: "keyUsages", Value: "crl sign"},
				{Field: "extKeyUsages", Value: "client auth"}, {Field: "duration", Value: (2 * 365 * day).String()},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var req *x509.Certificate
			if !tc.nilRequest {
				req = request(tc.mod)
			}
			err := tc.policy.Evaluate(req)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || !errors.Is(err, ErrPolicyViolation) {
				t.Fatalf("err = %v, want a *PolicyError", err)
			}
			var got []Violation
			msg, unnamed := err.Error(), 0
			for _, v := range pe.Violations {
				// A reason is in the message, its list of allowed values given once; or it is
				// counted among those the bounded message could not name.
				stem, _, _ := strings.Cut(v.Reason, " (allowed: ")
				if v.Reason == "" {
					t.Errorf("violation %+v has no reason", v)
				}
				if !strings.Contains(msg, stem) {
					unnamed++
				}
				got = append(got, Violation{Field: v.Field, Value: v.Value})
			}
			if unnamed > 0 && !strings.HasSuffix(msg, fmt.Sprintf("and %d more violations", unnamed)) {
				t.Errorf("%d violations are neither in the message nor counted: %s", unnamed, msg)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("violations\n got %v\nwant %v\n(%v)", got, tc.want, err)
			}
		})
	}
}

// The message is what an operator reads in the CertificateRequest's condition.
func TestPolicyErrorMessage(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		mod  func(*x509.Certificate)
		want string
	}{
		"foreign name and IP": {
			mod: func(c *x509.Certificate) {
				c.DNSNames = []string{"evil.example.com"}
				c.IPAddresses = []net.IP{net.ParseIP("10.0.0.1")}
			},
			want: `request violates the issuer's policy: DNS name "evil.example.com" is not allowed (allowed: antrea.kube-system.svc, antrea.kube-system.svc.cluster.local); IP address SANs are not allowed (requested: 10.0.0.1)`,
		},
		"usages": {
			mod: func(c *x509.Certificate) {
				c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageCodeSigning}
			},
			want: `request violates the issuer's policy: extended key usage "client auth" is not allowed (allowed: server auth); extended key usage "code signing" is not allowed`,
		},
		"durations": {
			mod:  func(c *x509.Certificate) { c.NotAfter = c.NotBefore.Add(400 * day) },
			want: `request violates the issuer's policy: the requested duration 400 days is longer than the maximum 397 days`,
		},
		"foreign common name": {
			mod:  func(c *x509.Certificate) { c.Subject.CommonName = "evil" },
			want: `request violates the issuer's policy: common name "evil" is not allowed (allowed: antrea, antrea.kube-system.svc, antrea.kube-system.svc.cluster.local)`,
		},
		"CA usage": {
			mod:  func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageDecipherOnly },
			want: `request violates the issuer's policy: key usage "cert sign" is reserved for CA certificates; this issuer signs only leaf certificates; key usage "decipher only" is not allowed (allowed: digital signature, key encipherment)`,
		},
		"no names": {
			mod:  names(),
			want: `request violates the issuer's policy: no DNS names were requested (allowed: antrea.kube-system.svc, antrea.kube-system.svc.cluster.local)`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := AntreaPolicy("kube-system", "").Evaluate(request(tc.mod))
			if err == nil || err.Error() != tc.want {
				t.Errorf("message\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	antrea := AntreaPolicy("kube-system", "")
	mod := func(f func(*Policy)) Policy {
		p := AntreaPolicy("kube-system", "")
		f(&p)
		return p
	}
	tests := map[string]struct {
		policy  Policy
		wantMsg string // "" means valid
	}{
		"antrea":                {policy: antrea},
		"antrea, custom domain": {policy: AntreaPolicy("antrea", "corp.example.")},
		"patterns":              {policy: mod(func(p *Policy) { p.DNSNames = []string{"antrea.*.svc", "*.svc.cluster.local"} })},
		"no namespace":          {policy: AntreaPolicy("", ""), wantMsg: `DNS name pattern "antrea..svc" is invalid: it has an empty label`},
		"no DNS names":          {policy: mod(func(p *Policy) { p.DNSNames = nil }), wantMsg: "no DNS names are allowed but every request must carry one"},
		"optional DNS names, CNs only": {policy: mod(func(p *Policy) {
			p.DNSNames, p.DNSNamesOptional, p.CommonNames = nil, true, []string{"*"}
		})},
		"optional DNS names, IPs only": {policy: mod(func(p *Policy) {
			p.DNSNames, p.DNSNamesOptional, p.CommonNames, p.AllowIPAddresses = nil, true, nil, true
		})},
		"optional DNS names, no identity at all": {policy: mod(func(p *Policy) { p.DNSNames, p.DNSNamesOptional, p.CommonNames = nil, true, nil }), wantMsg: "no DNS names, common names, IP addresses, URIs or email addresses are allowed"},
		"partial-label star":                     {policy: mod(func(p *Policy) { p.DNSNames = []string{"antrea-*.svc"} }), wantMsg: "'*' must be a whole label"},
		"star alone":                             {policy: mod(func(p *Policy) { p.DNSNames, p.CommonNames = []string{"*"}, []string{"*", "*.*"} })},
		"stars only":                             {policy: mod(func(p *Policy) { p.DNSNames = []string{"*.*", "*.*.*"} })},
		"star with an empty label":               {policy: mod(func(p *Policy) { p.DNSNames = []string{"*..*"} }), wantMsg: "empty label"},
		"trailing dot":                           {policy: mod(func(p *Policy) { p.DNSNames = []string{"antrea.svc."} }), wantMsg: "trailing dot"},
		"non-ASCII pattern":                      {policy: mod(func(p *Policy) { p.DNSNames = []string{"b\u00fccher.example"} }), wantMsg: "non-ASCII"},
		"bad CN pattern":                         {policy: mod(func(p *Policy) { p.CommonNames = []string{"a b"} }), wantMsg: `common name pattern "a b" is invalid`},
		"min above max":                          {policy: mod(func(p *Policy) { p.MinDuration, p.MaxDuration = 48*time.Hour, 24*time.Hour }), wantMsg: "the minimum duration 2 days is longer than the maximum 24h0m0s"},
		"default min above max":                  {policy: mod(func(p *Policy) { p.MinDuration, p.MaxDuration = 0, 30*time.Minute }), wantMsg: "longer than the maximum"},
		"negative min":                           {policy: mod(func(p *Policy) { p.MinDuration = -time.Hour }), wantMsg: "negative"},
		"negative max":                           {policy: mod(func(p *Policy) { p.MaxDuration = -time.Hour }), wantMsg: "negative"},
		"every usage":                            {policy: mod(func(p *Policy) { p.KeyUsages, p.ExtKeyUsages = everyKeyUsage(), everyExtKeyUsage() })},
		"unknown key usage bit":                  {policy: mod(func(p *Policy) { p.KeyUsages |= 1 << 12 }), wantMsg: "key usage bit 4096 is unknown"},
		"unknown ext key usage":                  {policy: mod(func(p *Policy) { p.ExtKeyUsages = []x509.ExtKeyUsage{99} }), wantMsg: "extended key usage 99 is unknown"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := tc.policy.Validate()
			if tc.wantMsg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %v, want ErrInvalidPolicy containing %q", err, tc.wantMsg)
			}
		})
	}
}

func TestAntreaPolicyNames(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		ns, domain string
		want       []string
	}{
		"defaults":          {ns: "kube-system", want: []string{antreaSvc, antreaFQDN}},
		"custom domain":     {ns: "antrea", domain: "corp.example", want: []string{"antrea.antrea.svc", "antrea.antrea.svc.corp.example"}},
		"domain with a dot": {ns: "antrea", domain: "corp.example.", want: []string{"antrea.antrea.svc", "antrea.antrea.svc.corp.example"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := AntreaPolicy(tc.ns, tc.domain)
			if !slices.Equal(p.DNSNames, tc.want) {
				t.Errorf("DNSNames = %v, want %v", p.DNSNames, tc.want)
			}
			// Antrea's Service name is a common name too: Antrea's documented Certificate uses it.
			if want := append([]string{"antrea"}, tc.want...); !slices.Equal(p.CommonNames, want) {
				t.Errorf("CommonNames = %v, want %v", p.CommonNames, want)
			}
			if p.DNSNamesOptional || p.AllowIPAddresses || p.AllowURIs || p.AllowEmailAddresses || p.AllowWildcards {
				t.Errorf("AntreaPolicy is not strict: %+v", p)
			}
			if err := p.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

// starPatterns allows every name of up to n labels: "*", "*.*", ...
func starPatterns(n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, strings.TrimSuffix(strings.Repeat("*.", i), "."))
	}
	return out
}

func everyKeyUsage() x509.KeyUsage {
	var ku x509.KeyUsage
	for b := range keyUsageNames {
		ku |= b
	}
	return ku
}

func everyExtKeyUsage() []x509.ExtKeyUsage {
	var ekus []x509.ExtKeyUsage
	for u := range extKeyUsageNames {
		ekus = append(ekus, u)
	}
	slices.Sort(ekus)
	return ekus
}

// Patterns made of stars alone are a policy author's explicit choice; '*' still matches one
// label, never an IDN label.
func TestPolicyStarPatterns(t *testing.T) {
	t.Parallel()
	p := AntreaPolicy("kube-system", "")
	p.DNSNames = []string{"*", "*.*"}
	runNameCases(t, p, map[string]policyCase{
		"one label":             {names: []string{"antrea"}},
		"two labels":            {names: []string{"antrea.svc"}},
		"three labels":          {names: []string{"antrea.kube-system.svc"}, want: "is not allowed (allowed: *, *.*)"},
		"IDN label":             {names: []string{"xn--p1ai"}, want: "is not allowed (allowed: *, *.*)"},
		"requested wildcard":    {names: []string{"*.svc"}, want: "wildcard names are not allowed"},
		"still a host name":     {names: []string{"a_b"}, want: "contains the character '_'"},
		"still ASCII":           {names: []string{"\u0430ntrea"}, want: "non-ASCII"},
		"still no trailing dot": {names: []string{"antrea."}, want: "trailing dot"},
	})
}
