package version

import (
	"strings"
	"testing"
)

func TestGetDefaults(t *testing.T) {
	// A test binary has no -X flags and no main module version: the placeholders stay.
	got := Get()
	if got.Version != "dev" || got.Commit != "unknown" {
		t.Errorf("Get() = %+v, want version dev and commit unknown", got)
	}
}

func TestGetLinkerValues(t *testing.T) {
	oldV, oldC := Version, Commit
	t.Cleanup(func() { Version, Commit = oldV, oldC })
	Version, Commit = "v1.2.3", "0123abc"
	s := Get().String()
	for _, want := range []string{"antrea-issuer v1.2.3", "commit 0123abc", "go1.", "/"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() = %q, lacks %q", s, want)
		}
	}
}
