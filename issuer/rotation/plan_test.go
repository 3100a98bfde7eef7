package rotation

import (
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"antrea.io/antrea-issuer/signer"
)

func TestPlanRotation(t *testing.T) {
	t.Parallel()
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	a := generateCA(t, now.Add(-300*24*time.Hour), 365*24*time.Hour) // 65 days left
	b := generateCA(t, now.Add(-time.Hour), 365*24*time.Hour)
	steadyA := signer.Generations{Active: a}
	prepared := signer.Generations{Active: a, Next: b}
	activated := signer.Generations{Active: b, Previous: a.Cert}
	steadyB := signer.Generations{Active: b}

	cert := func(name string, g signer.Generations, signedByActive bool) certificateState {
		return certificateState{Key: types.NamespacedName{Namespace: "kube-system", Name: name}, Issued: true, CA: g.Bundle().PEM(), SignedByActive: signedByActive}
	}
	issuing := func(c certificateState) certificateState { c.Issuing = true; return c }
	issuedAt := func(c certificateState, at time.Time) certificateState { c.IssuedAt = at; return c }
	failed := func(c certificateState) certificateState { c.FailedRecently = true; return c }
	never := certificateState{Key: types.NamespacedName{Namespace: "kube-system", Name: "never"}}

	tests := map[string]struct {
		in           rotationInput
		wantStep     rotationStep
		wantReissue  []string
		wantWaiting  string
		wantRequeue  time.Duration
		requeueAtMin bool
	}{
		"steady, far from expiry: nothing, look again when due": {
			in:          rotationInput{Generations: steadyA, RenewBefore: 30 * 24 * time.Hour, Certificates: []certificateState{cert("c", steadyA, true)}},
			wantRequeue: 35 * 24 * time.Hour,
		},
		"steady, within renewBefore: prepare": {
			in:       rotationInput{Generations: steadyA, RenewBefore: 90 * 24 * time.Hour},
			wantStep: stepPrepare,
		},
		"steady, user asked: prepare": {
			in:       rotationInput{Generations: steadyA, RenewBefore: time.Hour, RequestPending: true},
			wantStep: stepPrepare,
		},
		"prepared, certificates behind: re-issue them, wait": {
			in: rotationInput{Generations: prepared, PhaseSince: now.Add(-time.Hour), MinPhaseDuration: time.Minute,
				Certificates: []certificateState{cert("old", steadyA, true), issuing(cert("busy", steadyA, true)), never, cert("done", prepared, true)}},
			wantReissue: []string{"kube-system/old"},
			wantWaiting: "Activate waits for kube-system/busy, kube-system/old",
			wantRequeue: pollWhileRotating,
		},
		"prepared, a certificate failing since the phase began: waits without re-triggering": {
			in: rotationInput{Generations: prepared, PhaseSince: now.Add(-time.Hour), MinPhaseDuration: time.Minute,
				Certificates: []certificateState{failed(cert("bad", steadyA, true))}},
			wantWaiting: "Activate waits for kube-system/bad",
			wantRequeue: pollWhileRotating,
		},
		"prepared, antrea-ca behind: wait": {
			in: rotationInput{Generations: prepared, PhaseSince: now.Add(-time.Hour), MinPhaseDuration: time.Minute,
				Certificates: []certificateState{cert("c", prepared, true)}, PublishedBundles: map[string][]byte{"ConfigMap kube-system/antrea-ca": steadyA.Bundle().PEM()}},
			wantWaiting: "ConfigMap kube-system/antrea-ca",
			wantRequeue: pollWhileRotating,
		},
		"prepared, in sync, dwell not over: wait for the dwell": {
			in: rotationInput{Generations: prepared, PhaseSince: now.Add(-time.Minute), MinPhaseDuration: 5 * time.Minute,
				Certificates: []certificateState{cert("c", prepared, true)}},
			wantWaiting: "after the minimum phase duration",
			wantRequeue: 4 * time.Minute,
		},
		"prepared, in sync, dwell over: activate": {
			in: rotationInput{Generations: prepared, PhaseSince: now.Add(-10 * time.Minute), MinPhaseDuration: 5 * time.Minute,
				Certificates: []certificateState{cert("c", prepared, true), never}, PublishedBundles: map[string][]byte{"cm": prepared.Bundle().PEM()}},
			wantStep: stepActivate,
		},
		"activated, leaves still from the old CA: re-issue": {
			in: rotationInput{Generations: activated, PhaseSince: now.Add(-10 * time.Minute), MinPhaseDuration: 5 * time.Minute,
				Certificates: []certificateState{cert("c", prepared, false)}},
			wantReissue: []string{"kube-system/c"},
			wantWaiting: "Retire waits for kube-system/c",
			wantRequeue: pollWhileRotating,
		},
		"activated, every leaf from the new CA, dwell over: retire": {
			in: rotationInput{Generations: activated, PhaseSince: now.Add(-10 * time.Minute), MinPhaseDuration: 5 * time.Minute,
				Certificates: []certificateState{cert("c", activated, true)}},
			wantStep: stepRetire,
		},
		"activated, dwell over but the leaf re-issued a moment ago (a restart mid-phase): wait from its issuance": {
			in: rotationInput{Generations: activated, PhaseSince: now.Add(-10 * time.Minute), MinPhaseDuration: 5 * time.Minute,
				Certificates: []certificateState{issuedAt(cert("c", activated, true), now.Add(-time.Minute)), issuedAt(cert("d", activated, true), now.Add(-time.Hour))}},
			wantWaiting: "Retire at 2027-03-01T12:04:00Z, after the minimum phase duration after the last certificate was issued",
			wantRequeue: 4 * time.Minute,
		},
		"prepared, the bundle re-issued long ago in the phase: the phase's own dwell counts": {
			in: rotationInput{Generations: prepared, PhaseSince: now.Add(-10 * time.Minute), MinPhaseDuration: 5 * time.Minute,
				Certificates: []certificateState{issuedAt(cert("c", prepared, true), now.Add(-9*time.Minute))}},
			wantStep: stepActivate,
		},
		"steady after retiring, ca.crt still lists the old CA: re-issue, no new rotation": {
			in:          rotationInput{Generations: steadyB, RenewBefore: 30 * 24 * time.Hour, Certificates: []certificateState{cert("c", activated, true)}},
			wantReissue: []string{"kube-system/c"},
			wantWaiting: "kube-system/c",
			wantRequeue: pollWhileRotating,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tc.in.Now = now
			plan := planRotation(tc.in)
			if plan.Step != tc.wantStep {
				t.Errorf("step = %q, want %q", plan.Step, tc.wantStep)
			}
			var reissue []string
			for _, k := range plan.Reissue {
				reissue = append(reissue, k.String())
			}
			if !slices.Equal(reissue, tc.wantReissue) {
				t.Errorf("reissue = %v, want %v", reissue, tc.wantReissue)
			}
			if !strings.Contains(plan.Waiting, tc.wantWaiting) || (tc.wantWaiting == "" && plan.Waiting != "") {
				t.Errorf("waiting = %q, want it to contain %q", plan.Waiting, tc.wantWaiting)
			}
			if d := plan.RequeueAfter - tc.wantRequeue; d < -time.Minute || d > time.Minute {
				t.Errorf("requeue after %s, want about %s", plan.RequeueAfter, tc.wantRequeue)
			}
		})
	}
}

func TestApplyStep(t *testing.T) {
	t.Parallel()
	now := time.Now()
	a, _ := signer.GenerateCA(now, signer.CAOptions{})
	b, _ := signer.GenerateCA(now, signer.CAOptions{})
	g, err := applyStep(signer.Generations{Active: a}, stepPrepare, b)
	if err != nil || g.Active != a || g.Next != b || g.Phase() != signer.PhasePrepared {
		t.Fatalf("prepare: %+v, %v", g, err)
	}
	if _, err := applyStep(g, stepRetire, nil); err == nil {
		t.Error("retire from Prepared succeeded")
	}
	g, err = applyStep(g, stepActivate, nil)
	if err != nil || g.Active != b || g.Previous != a.Cert || g.Next != nil {
		t.Fatalf("activate: %+v, %v", g, err)
	}
	if g.Bundle().Len() != 2 {
		t.Errorf("activated bundle has %d certificates, want 2", g.Bundle().Len())
	}
	g, err = applyStep(g, stepRetire, nil)
	if err != nil || g.Active != b || g.Previous != nil || g.Bundle().Len() != 1 {
		t.Fatalf("retire: %+v, %v", g, err)
	}
	if _, err := applyStep(g, stepActivate, nil); err == nil {
		t.Error("activate from Steady succeeded")
	}
}
