package main

import (
	"slices"
	"testing"
	"time"
)

// paced is a run of n requests that took elapsed, with cpu of CPU time in all.
func paced(n int, elapsed, cpu time.Duration) *crRunResult {
	return &crRunResult{ready: n, elapsed: elapsed, cpu: map[string]time.Duration{"kube-apiserver": cpu}}
}

func TestAlternationRatiosAndPace(t *testing.T) {
	ref1 := paced(1000, 25*time.Second, 36*time.Second)  // 36 ms per request, 40 CR/s
	ref2 := paced(1000, 25*time.Second, 40*time.Second)  // 40 ms, 40 CR/s
	ref3 := paced(1000, 27*time.Second, 34*time.Second)  // 34 ms, 37 CR/s: below 95% of 40
	ours1 := paced(1000, 25*time.Second, 38*time.Second) // 38 ms against (36+40)/2
	ours2 := paced(1000, 30*time.Second, 37*time.Second) // 37 ms against (40+34)/2, 33 CR/s
	a := &alternation{
		rate: 40,
		refs: []*crRunResult{ref1, ref2, ref3},
		targets: []*controllerRun{
			{setting: defaultSetting, controller: ours1, refBefore: ref1, refAfter: ref2},
			{setting: defaultSetting, controller: ours2, refBefore: ref2, refAfter: ref3},
		},
	}
	if got, want := ratios(a.targets), "1.00, 1.00"; got != want {
		t.Errorf("ratios = %q, want %q", got, want)
	}
	ctl, ref := meanCPU(a.targets)
	if ctl != 37500*time.Microsecond || ref != 37500*time.Microsecond {
		t.Errorf("meanCPU = %v / %v, want 37.5ms / 37.5ms", ctl, ref)
	}
	if got, want := a.offPace(), []string{"reference 37.0 CR/s", "antrea-issuer 33.3 CR/s"}; !slices.Equal(got, want) {
		t.Errorf("offPace = %q, want %q", got, want)
	}
	a.rate = 0 // as fast as they go: no pace to fall below
	if got := a.offPace(); got != nil {
		t.Errorf("offPace without a pace = %q, want none", got)
	}
}

func TestPacedVerdict(t *testing.T) {
	for _, tc := range []struct {
		ratio   float64
		offPace []string
		want    string
	}{
		{ratio: 1.04, want: verdict(true, "1.04/1.05")},
		{ratio: 1.06, want: verdict(false, "1.06/1.05")},
		{ratio: 1.04, offPace: []string{"ClusterIssuer 6.10 certificates/s"}, want: "NOT MEASURED at the pace: ClusterIssuer 6.10 certificates/s fell below it (CPU-bound; lower -cm-rate)"},
	} {
		if got := pacedVerdict(tc.ratio, 1.05, tc.offPace, "-cm-rate"); got != tc.want {
			t.Errorf("pacedVerdict(%.2f, %q) = %q, want %q", tc.ratio, tc.offPace, got, tc.want)
		}
	}
	if !belowPace(37, 40) || belowPace(38, 40) || belowPace(1, 0) {
		t.Error("belowPace: want below at 37 of 40, not at 38 of 40, never without a pace")
	}
}
