package rotation

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
	"antrea.io/antrea-issuer/signer"
)

// Rotation replaces an issuer's CA without a moment in which a client distrusts the server it
// talks to. The CA Secret holds the state (signer.Generations); each step waits until every
// certificate issued through the issuer, and Antrea's published bundle, have caught up, and until
// a minimum time has passed for mounted Secrets and file-watching clients to reload:
//
//	Steady     bundle [A]     sign with A
//	Prepared   bundle [A, B]  sign with A   every Certificate re-issued: its ca.crt gains B
//	Activated  bundle [B, A]  sign with B   every Certificate re-issued: its leaf chains to B
//	Steady     bundle [B]     sign with B   every Certificate re-issued: A leaves every ca.crt
//
// A's key leaves the Secret at activation: from then on A can no longer sign anything.

// rotationStep is the transition a reconcile applies to the CA Secret.
type rotationStep string

const (
	stepNone     rotationStep = ""
	stepPrepare  rotationStep = "Prepare"
	stepActivate rotationStep = "Activate"
	stepRetire   rotationStep = "Retire"
)

// certificateState is what the rotation needs to know about one Certificate using the issuer.
type certificateState struct {
	Key types.NamespacedName
	// Revision is cert-manager's revision of its current certificate.
	Revision int
	// Issued is true once the Certificate has a current certificate (a revision whose request
	// was signed); Certificates never issued have no Secret to bring up to date.
	Issued bool
	// Issuing is true while cert-manager is issuing it.
	Issuing bool
	// CA is the ca.crt of its current certificate (its request's status.ca).
	CA []byte
	// SignedByActive is true when its current leaf was signed by the active CA.
	SignedByActive bool
	// IssuedAt is when its current certificate was issued (its request became Ready); zero when
	// unknown.
	IssuedAt time.Time
	// FailedRecently is true when its last issuance failed after the current phase began:
	// cert-manager backs off, and re-triggering it at every look would defeat that back-off.
	FailedRecently bool
}

// rotationInput is everything planRotation decides from; reconcile gathers it.
type rotationInput struct {
	Now         time.Time
	Generations signer.Generations
	// PhaseSince is when the current phase began (from the CA Secret).
	PhaseSince time.Time
	// RenewBefore: a Steady CA starts rotating this long before it expires.
	RenewBefore time.Duration
	// MinPhaseDuration is the least time Prepared and Activated last, and the least time between
	// the last certificate issued in the phase and the next step: servers reload a re-issued
	// Secret late (kubelet), so the step after a late re-issue (after a restart of this
	// controller, or a slow cert-manager) waits for them as well.
	MinPhaseDuration time.Duration
	// RequestPending is true when a user asked for a rotation not yet started.
	RequestPending bool
	Certificates   []certificateState
	// PublishedBundles are the CA bundles published outside Certificates' Secrets (Antrea's
	// antrea-ca ConfigMap and caBundles), by name; each must equal the issuer's bundle before a
	// step.
	PublishedBundles map[string][]byte
}

// rotationPlan is what to do now.
type rotationPlan struct {
	Step rotationStep
	// Reissue lists Certificates to re-issue so that they match the current generations.
	Reissue []types.NamespacedName
	// Waiting says, for the status, what the rotation waits for; empty when nothing.
	Waiting string
	// RequeueAfter asks for the next look; 0 means only on events.
	RequeueAfter time.Duration
}

// pollWhileRotating bounds how long a rotation waits between looks at Certificates that are
// being re-issued (their events also trigger a look).
const pollWhileRotating = 2 * time.Second

// planRotation decides the next rotation step. It is pure: the same input gives the same plan.
func planRotation(in rotationInput) rotationPlan {
	g := in.Generations
	bundle := g.Bundle().PEM()
	phase := g.Phase()

	var plan rotationPlan
	var behind []string
	for _, c := range in.Certificates {
		if !c.Issued {
			continue
		}
		inSync := string(c.CA) == string(bundle) && c.SignedByActive
		if inSync {
			continue
		}
		behind = append(behind, c.Key.String())
		if !c.Issuing && !c.FailedRecently {
			plan.Reissue = append(plan.Reissue, c.Key)
		}
	}
	for name, published := range in.PublishedBundles {
		if string(published) != string(bundle) {
			behind = append(behind, name)
		}
	}
	sort.Strings(behind)
	sort.Slice(plan.Reissue, func(i, j int) bool { return plan.Reissue[i].String() < plan.Reissue[j].String() })

	switch phase {
	case signer.PhaseSteady:
		due := g.Active.Cert.NotAfter.Add(-in.RenewBefore)
		switch {
		case in.RequestPending:
			plan.Step = stepPrepare
		case !in.Now.Before(due):
			plan.Step = stepPrepare
		default:
			if len(behind) > 0 {
				plan.Waiting = "certificates catching up with the CA bundle: " + strings.Join(behind, ", ")
				plan.RequeueAfter = pollWhileRotating
			} else {
				plan.RequeueAfter = due.Sub(in.Now)
			}
		}
		return plan
	case signer.PhasePrepared, signer.PhaseActivated:
		next := stepActivate
		if phase == signer.PhaseActivated {
			next = stepRetire
		}
		if len(behind) > 0 {
			plan.Waiting = fmt.Sprintf("%s waits for %s", next, strings.Join(behind, ", "))
			plan.RequeueAfter = pollWhileRotating
			return plan
		}
		since, what := in.PhaseSince, "the minimum phase duration"
		for _, c := range in.Certificates {
			if c.Issued && c.IssuedAt.After(since) {
				since, what = c.IssuedAt, "the minimum phase duration after the last certificate was issued"
			}
		}
		if dwellEnd := since.Add(in.MinPhaseDuration); in.Now.Before(dwellEnd) {
			plan.Waiting = fmt.Sprintf("%s at %s, after %s", next, dwellEnd.UTC().Format(time.RFC3339), what)
			plan.RequeueAfter = dwellEnd.Sub(in.Now)
			return plan
		}
		plan.Step = next
	}
	return plan
}

// applyStep returns the generations after step; next is the new CA for stepPrepare.
func applyStep(g signer.Generations, step rotationStep, next *signer.CA) (signer.Generations, error) {
	switch step {
	case stepPrepare:
		if g.Phase() != signer.PhaseSteady || next == nil {
			return g, fmt.Errorf("cannot prepare a rotation in phase %s", g.Phase())
		}
		return signer.Generations{Active: g.Active, Next: next}, nil
	case stepActivate:
		if g.Phase() != signer.PhasePrepared {
			return g, fmt.Errorf("cannot activate in phase %s", g.Phase())
		}
		return signer.Generations{Active: g.Next, Previous: g.Active.Cert}, nil
	case stepRetire:
		if g.Phase() != signer.PhaseActivated {
			return g, fmt.Errorf("cannot retire in phase %s", g.Phase())
		}
		return signer.Generations{Active: g.Active}, nil
	}
	return g, nil
}

// remainingNeeded is the least time the rotation still needs, from now, before it is complete:
// what is left of the current phase's minimum duration, the phases after it, and their share of
// the time allowed for re-issuing. An alert compares it with the time the active CA has left.
func remainingNeeded(phase signer.Phase, phaseSince, now time.Time, minPhase time.Duration) time.Duration {
	const steps = 3 // cert-manager re-issues every certificate after Prepare, Activate and Retire
	reissue := v1alpha1.ReissueAllowance / steps
	left := max(phaseSince.Add(minPhase).Sub(now), 0)
	switch phase {
	case signer.PhasePrepared:
		return left + minPhase + 2*reissue
	case signer.PhaseActivated:
		return left + reissue
	}
	return 2*minPhase + steps*reissue
}
