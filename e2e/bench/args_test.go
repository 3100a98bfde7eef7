package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestArgsKnownToOlderBinary: a -compare binary from before a flag existed gets the chart's
// arguments without that flag, instead of exiting at start.
func TestArgsKnownToOlderBinary(t *testing.T) {
	older := filepath.Join(t.TempDir(), "antrea-issuer")
	usage := "Usage of antrea-issuer:\n  -leader-elect\n    \tElect a leader.\n  -workers int\n    \tConcurrent reconciles. (default 4)\n"
	if err := os.WriteFile(older, []byte("#!/bin/sh\nprintf '"+usage+"' >&2\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := argsKnownTo(context.Background(), older,
		[]string{"--leader-elect=true", "--leader-election-lease-duration=60s", "--workers=4", "-workers", "8"})
	if err != nil {
		t.Fatal(err)
	}
	// A value given as a separate argument stays (the chart and the bench use --flag=value).
	if want := []string{"--leader-elect=true", "--workers=4", "-workers", "8"}; !slices.Equal(got, want) {
		t.Errorf("args = %q, want %q", got, want)
	}
}
