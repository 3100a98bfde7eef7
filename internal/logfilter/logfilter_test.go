package logfilter_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"antrea.io/antrea-issuer/internal/expected"
	"antrea.io/antrea-issuer/internal/logfilter"
)

func TestFilter(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		log  func(logr.Logger)
		want []string
	}{
		"values reach the line in order, names apart": {
			log: func(l logr.Logger) {
				l.WithValues("a", 1).WithName("x").WithValues("b", 2).WithName("y").Info("hello", "c", 3)
			},
			want: []string{`x/y "level"=0 "msg"="hello" "a"=1 "b"=2 "c"=3`},
		},
		"a logger's values do not leak into its parent or siblings": {
			log: func(l logr.Logger) {
				parent := l.WithValues("p", 1)
				_ = parent.WithValues("child", 1)
				parent.WithValues("sibling", 2).Info("one")
				parent.Info("two")
			},
			want: []string{`"level"=0 "msg"="one" "p"=1 "sibling"=2`, `"level"=0 "msg"="two" "p"=1`},
		},
		"disabled levels write nothing": {
			log:  func(l logr.Logger) { l.WithValues("a", 1).V(1).Info("debug") },
			want: nil,
		},
		"expected errors are dropped, others kept with their values": {
			log: func(l logr.Logger) {
				l.WithValues("a", 1).Error(expected.Mark(errors.New("refused")), "dropped")
				l.WithValues("a", 1).Error(errors.New("boom"), "kept")
			},
			want: []string{`"msg"="kept" "error"="boom" "a"=1`},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var lines []string
			base := funcr.New(func(prefix, args string) {
				if prefix != "" {
					args = prefix + " " + args
				}
				lines = append(lines, args)
			}, funcr.Options{})
			tc.log(logfilter.New(base))
			if fmt.Sprint(lines) != fmt.Sprint(tc.want) {
				t.Errorf("lines:\n%q\nwant:\n%q", lines, tc.want)
			}
		})
	}
}
