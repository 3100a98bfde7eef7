// Package logfilter keeps the binary's log to one line per expected outcome: it drops the error
// lines that libraries print for errors marked with internal/expected, whose deciding code has
// already logged them once, without a stack trace.
package logfilter

import (
	"github.com/go-logr/logr"

	"antrea.io/antrea-issuer/internal/expected"
)

// New wraps a logger so that Error calls for expected errors are dropped.
func New(l logr.Logger) logr.Logger {
	sink := l.GetSink()
	if sink == nil {
		return l
	}
	return logr.New(&filterSink{LogSink: sink})
}

type filterSink struct{ logr.LogSink }

func (s *filterSink) Error(err error, msg string, keysAndValues ...any) {
	if expected.Is(err) {
		return
	}
	s.LogSink.Error(err, msg, keysAndValues...)
}

func (s *filterSink) WithValues(keysAndValues ...any) logr.LogSink {
	return &filterSink{LogSink: s.LogSink.WithValues(keysAndValues...)}
}

func (s *filterSink) WithName(name string) logr.LogSink {
	return &filterSink{LogSink: s.LogSink.WithName(name)}
}

// WithCallDepth keeps caller information right when the wrapped sink reports it.
func (s *filterSink) WithCallDepth(depth int) logr.LogSink {
	if d, ok := s.LogSink.(logr.CallDepthLogSink); ok {
		return &filterSink{LogSink: d.WithCallDepth(depth + 1)}
	}
	return s
}

// GetCallStackHelper is needed for testing frameworks that print the caller.
func (s *filterSink) GetCallStackHelper() func() {
	if h, ok := s.LogSink.(logr.CallStackHelperLogSink); ok {
		return h.GetCallStackHelper()
	}
	return func() {}
}

var (
	_ logr.CallDepthLogSink       = &filterSink{}
	_ logr.CallStackHelperLogSink = &filterSink{}
)
