package signer

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// DNS name syntax and pattern matching for the policy. Everything here works on ASCII
// bytes: non-ASCII input is refused before any comparison, so Unicode case folding
// (which maps the Kelvin sign "K" to "k") can never make a look-alike name match.

const (
	maxDNSNameLength  = 253
	maxDNSLabelLength = 63
)

// nameSyntaxProblem says why a requested DNS name (or common name) is unacceptable on
// its own, or returns "".
func nameSyntaxProblem(name string, allowWildcards bool) string {
	if name == "" {
		return "it is empty"
	}
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			return "it contains non-ASCII characters (look-alike characters are refused; an internationalized name must be requested in its xn-- form and listed exactly)"
		}
	}
	if len(name) > maxDNSNameLength {
		return "it is longer than 253 characters"
	}
	if name[len(name)-1] == '.' {
		return "it has a trailing dot"
	}
	for i, l := range strings.Split(name, ".") {
		switch {
		case l == "":
			return "it has an empty label"
		case strings.Contains(l, "*"):
			if !allowWildcards {
				return "wildcard names are not allowed"
			}
			if l != "*" {
				return "a wildcard must be a whole label"
			}
			if i != 0 {
				return "a wildcard may only be the leftmost label"
			}
		default:
			if p := labelProblem(l); p != "" {
				return p
			}
		}
	}
	return ""
}

// patternProblem validates a policy pattern: a DNS name whose labels may be "*". A pattern
// of stars only ("*", "*.*") is valid: it is the policy author's explicit choice of any name
// with that many labels.
func patternProblem(pattern string) string {
	if pattern == "" {
		return "it is empty"
	}
	for i := 0; i < len(pattern); i++ {
		if pattern[i] >= utf8.RuneSelf {
			return "it contains non-ASCII characters (use the xn-- form)"
		}
	}
	if len(pattern) > maxDNSNameLength {
		return "it is longer than 253 characters"
	}
	if pattern[len(pattern)-1] == '.' {
		return "it has a trailing dot"
	}
	for _, l := range strings.Split(pattern, ".") {
		switch {
		case l == "":
			return "it has an empty label"
		case l == "*":
			continue
		case strings.Contains(l, "*"):
			return "'*' must be a whole label"
		}
		if p := labelProblem(l); p != "" {
			return p
		}
	}
	return ""
}

// labelProblem checks one letters-digits-hyphen label (RFC 1123).
func labelProblem(l string) string {
	if len(l) > maxDNSLabelLength {
		return "a label is longer than 63 characters"
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return "it contains the character " + strconv.QuoteRuneToASCII(rune(c))
		}
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return "a label starts or ends with a hyphen"
	}
	return ""
}

// matchesAny reports whether a syntactically valid name matches one of the patterns. A
// '*' pattern label matches exactly one requested label (never a dot, never nothing) but
// never an IDN label (xn--...), which must be listed literally: an operator who allowed
// "antrea.*.svc" did not review what a punycode label renders as. A requested wildcard
// label "*" is only matched by a pattern "*", i.e. when the policy grants that wildcard.
// Comparison is ASCII case-insensitive because DNS is.
func matchesAny(name string, patterns []string) bool {
	nameLabels := strings.Split(lowerASCII(name), ".")
	for _, p := range patterns {
		if labelsMatch(strings.Split(lowerASCII(p), "."), nameLabels) {
			return true
		}
	}
	return false
}

func labelsMatch(pattern, name []string) bool {
	if len(pattern) != len(name) {
		return false
	}
	for i, pl := range pattern {
		if pl == "*" {
			if name[i] == "" || strings.HasPrefix(name[i], "xn--") {
				return false
			}
			continue
		}
		if pl != name[i] {
			return false
		}
	}
	return true
}

// lowerASCII lowercases ASCII letters only and leaves other bytes as they are.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
