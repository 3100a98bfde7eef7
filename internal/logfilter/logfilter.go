// Package logfilter keeps the binary's log to one line per expected outcome: it drops the error
// lines that libraries print for errors marked with internal/expected, whose deciding code has
// already logged them once, without a stack trace.
package logfilter

import (
	"github.com/go-logr/logr"

	"antrea.io/antrea-issuer/internal/expected"
)

// New wraps a logger so that Error calls for expected errors are dropped. Key/value pairs added
// with WithValues are handed to the wrapped logger only when a line is written: controller-runtime
// adds five to six per reconcile, and zap encodes them at once, which cost about 7 % of the
// binary's CPU per signed request although the reconciles of a request usually log nothing
// (measured in docs/benchmarks.md).
func New(l logr.Logger) logr.Logger {
	sink := l.GetSink()
	if sink == nil {
		return l
	}
	return logr.New(&filterSink{LogSink: sink})
}

type filterSink struct {
	logr.LogSink
	// values are added to LogSink when a line is written; never modified once set.
	values []any
}

// sink is the wrapped sink with the pending values added.
func (s *filterSink) sink() logr.LogSink {
	if len(s.values) == 0 {
		return s.LogSink
	}
	return s.LogSink.WithValues(s.values...)
}

func (s *filterSink) Info(level int, msg string, keysAndValues ...any) {
	s.sink().Info(level, msg, keysAndValues...)
}

func (s *filterSink) Error(err error, msg string, keysAndValues ...any) {
	if expected.Is(err) {
		return
	}
	s.sink().Error(err, msg, keysAndValues...)
}

func (s *filterSink) WithValues(keysAndValues ...any) logr.LogSink {
	values := make([]any, 0, len(s.values)+len(keysAndValues))
	values = append(append(values, s.values...), keysAndValues...)
	return &filterSink{LogSink: s.LogSink, values: values}
}

// WithName names the wrapped sink at once: a name is not encoded, and the pending values are
// written after it either way.
func (s *filterSink) WithName(name string) logr.LogSink {
	return &filterSink{LogSink: s.LogSink.WithName(name), values: s.values}
}

// WithCallDepth keeps caller information right when the wrapped sink reports it.
func (s *filterSink) WithCallDepth(depth int) logr.LogSink {
	if d, ok := s.LogSink.(logr.CallDepthLogSink); ok {
		return &filterSink{LogSink: d.WithCallDepth(depth + 1), values: s.values}
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
