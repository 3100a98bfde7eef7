// Package expected marks errors that are an ordinary outcome rather than a failure of the
// controller: a request the policy refuses, a CA Secret for its owner to fix. The code that
// decides such an outcome logs it once, as one clear line; the binary's log filter
// (internal/logfilter) then drops the error lines, with stack traces, that issuer-lib and
// controller-runtime would print for the same error.
package expected

import "errors"

// Mark returns err marked as expected; nil stays nil. The message is err's, unchanged: it is what
// the issuer's or the request's condition shows.
func Mark(err error) error {
	if err == nil {
		return nil
	}
	return &marked{err}
}

// Is reports whether err, or an error it wraps, was marked.
func Is(err error) bool {
	var m *marked
	return errors.As(err, &m)
}

type marked struct{ err error }

func (m *marked) Error() string { return m.err.Error() }
func (m *marked) Unwrap() error { return m.err }
