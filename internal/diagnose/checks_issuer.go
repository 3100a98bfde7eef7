package diagnose

import (
	"fmt"
	"slices"
	"strings"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"antrea.io/antrea-issuer/issuer/api/v1alpha1"
)

// Check ids of the controller and the issuers.
const (
	CheckController = "controller"
	CheckIssuer     = "issuer-ready"
	CheckCAExpiry   = "ca-expiry"
	CheckRotation   = "ca-rotation"
)

// Defaults of the issuer's spec (the CRD's defaults), for issuers read before they applied.
const (
	defaultRenewBefore      = 8760 * time.Hour
	defaultMinPhaseDuration = 5 * time.Minute
	// providedCAWarning is how long before a provided CA expires diagnose warns: its owner must
	// replace it (nothing rotates it automatically).
	providedCAWarning = 30 * 24 * time.Hour
	// defaultLeaseDuration is the chart's leaderElection.leaseDuration, for a Lease that does
	// not say its own.
	defaultLeaseDuration = 60 * time.Second
)

const (
	conditionReady      = "Ready"
	conditionCARotation = "CARotation"
	phaseSteady         = "Steady"
)

// checkController: antrea-issuer's leader Lease is held and fresh, so a controller works.
func checkController(s *State, o Options) []Result {
	obj := "Lease/" + o.IssuerNamespace + "/" + LeaderElectionLease
	if s.LeaseErr != nil {
		return []Result{unreadable(CheckController, obj, "antrea-issuer's leader Lease", s.LeaseErr)}
	}
	fix := fmt.Sprintf("start antrea-issuer: kubectl -n %s get deployments,pods; kubectl -n %s logs deployment/antrea-issuer (%s, step 4)",
		o.IssuerNamespace, o.IssuerNamespace, docWhenWrong)
	if s.Lease == nil {
		return []Result{problem(CheckController, StatusWarning, obj,
			fmt.Sprintf("if antrea-issuer runs in another namespace, pass --issuer-namespace; else %s", fix),
			"no leader Lease: antrea-issuer is not running in namespace %s, or runs without leader election", o.IssuerNamespace)}
	}
	spec := s.Lease.Spec
	holder := ""
	if spec.HolderIdentity != nil {
		holder = *spec.HolderIdentity
	}
	var renewed time.Time
	if spec.RenewTime != nil {
		renewed = spec.RenewTime.Time
	}
	// Past its duration since the last renewal, the Lease has expired: its holder stopped
	// renewing (it renews every retry period, a quarter of the chart's duration).
	expiry := defaultLeaseDuration
	if spec.LeaseDurationSeconds != nil && *spec.LeaseDurationSeconds > 0 {
		expiry = time.Duration(*spec.LeaseDurationSeconds) * time.Second
	}
	since := s.Now.Sub(renewed)
	if holder == "" || renewed.IsZero() || since > expiry {
		msg := "no replica of antrea-issuer holds the leader Lease"
		if !renewed.IsZero() {
			msg += fmt.Sprintf(" (last renewed %s ago)", age(since))
		}
		return []Result{problem(CheckController, StatusError, obj, fix,
			"%s: nothing signs requests, rotates CAs or keeps antrea-ca and the caBundles in sync", msg)}
	}
	return []Result{ok(CheckController, obj, "antrea-issuer is running: leader %s renewed the Lease %s ago", holder, age(since))}
}

// antreaCertificate is the one Certificate writing Antrea's Secret, nil when there is not
// exactly one.
func antreaCertificate(s *State) *cmapi.Certificate {
	if s.CertificatesErr != nil || len(s.Certificates) != 1 {
		return nil
	}
	return &s.Certificates[0]
}

// referencedIssuer is the issuer Antrea's Certificate names, by Ref(); "" when it names none of
// antrea-issuer's.
func referencedIssuer(s *State) string {
	crt := antreaCertificate(s)
	if crt == nil || crt.Spec.IssuerRef.Group != v1alpha1.GroupName {
		return ""
	}
	switch crt.Spec.IssuerRef.Kind {
	case KindClusterIssuer:
		return KindClusterIssuer + "/" + crt.Spec.IssuerRef.Name
	case KindIssuer:
		return KindIssuer + "/" + crt.Namespace + "/" + crt.Spec.IssuerRef.Name
	}
	return ""
}

// orderedIssuers lists the issuers, the one Antrea's Certificate references first.
func orderedIssuers(s *State) []Issuer {
	ref := referencedIssuer(s)
	out := slices.Clone(s.Issuers)
	slices.SortStableFunc(out, func(a, b Issuer) int {
		if (a.Ref() == ref) != (b.Ref() == ref) {
			if a.Ref() == ref {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Ref(), b.Ref())
	})
	return out
}

// checkIssuers: every issuer is Ready. The one Antrea's Certificate uses (or, when that is not
// known, every one) is an error when not Ready; others are warnings.
func checkIssuers(s *State, o Options) []Result {
	var out []Result
	if s.ClusterIssuersErr != nil {
		out = append(out, unreadable(CheckIssuer, "", "AntreaClusterIssuers", s.ClusterIssuersErr))
	}
	if s.IssuersErr != nil {
		out = append(out, unreadable(CheckIssuer, "", "AntreaIssuers", s.IssuersErr))
	}
	if len(s.Issuers) == 0 && s.ClusterIssuersErr == nil && s.IssuersErr == nil {
		scope := "in the cluster"
		if len(s.IssuerNamespaces) > 0 {
			scope = "cluster-wide or in namespaces " + strings.Join(s.IssuerNamespaces, ", ")
		}
		out = append(out, problem(CheckIssuer, StatusError, "",
			"install the chart with clusterIssuer.enabled=true, or apply config/samples/antrea-controller-tls.yaml (README \"Example\")",
			"no AntreaClusterIssuer or AntreaIssuer %s", scope))
	}
	ref := referencedIssuer(s)
	for _, iss := range orderedIssuers(s) {
		severity := StatusError
		if ref != "" && iss.Ref() != ref {
			severity = StatusWarning
		}
		out = append(out, issuerReady(iss, severity))
	}
	return out
}

func issuerReady(iss Issuer, severity Status) Result {
	c := meta.FindStatusCondition(iss.Conditions, conditionReady)
	if c == nil {
		return problem(CheckIssuer, severity, iss.Ref(),
			"check that antrea-issuer runs (the controller line) "+row("Issuers", "Unknown, Initializing"),
			"no Ready condition yet: antrea-issuer has not looked at it")
	}
	stale := ""
	if c.ObservedGeneration != 0 && c.ObservedGeneration < iss.Generation {
		stale = fmt.Sprintf(" (for generation %d; the spec is now at %d, not yet checked)", c.ObservedGeneration, iss.Generation)
	}
	if c.Status == metav1.ConditionTrue {
		return ok(CheckIssuer, iss.Ref(), "Ready (%s)%s", c.Reason, stale)
	}
	msg := fmt.Sprintf("Ready=%s (%s): %s%s", c.Status, c.Reason, c.Message, stale)
	if c.Status == metav1.ConditionUnknown && severity == StatusError {
		severity = StatusWarning // just created: wait a second
	}
	return Result{Check: CheckIssuer, Status: severity, Object: iss.Ref(), Message: msg, Fix: issuerFix(iss, c)}
}

// issuerFix maps a Ready condition to the README's row. Conditions are read generically: a
// reason or message this does not know still shows (the message is printed whole) and points at
// the table.
func issuerFix(iss Issuer, c *metav1.Condition) string {
	describe := "kubectl describe " + strings.ToLower(iss.Kind) + " " + iss.Name
	if iss.Namespace != "" {
		describe = "kubectl -n " + iss.Namespace + " describe " + strings.ToLower(iss.Kind) + " " + iss.Name
	}
	msg := c.Message
	switch {
	case c.Status == metav1.ConditionUnknown:
		return "wait a second; if it stays, check that antrea-issuer runs (the controller line) " + row("Issuers", "Unknown, Initializing")
	case strings.Contains(msg, "belongs to another issuer"):
		return "give this issuer a CA Secret of its own (spec.ca.generated.secretName or spec.ca.provided.secretName): one CA Secret serves one issuer " +
			row("Issuers", `False, Pending, "CA Secret belongs to another issuer: … serves <issuer>"`)
	case strings.Contains(msg, "not labelled for antrea-issuer"):
		return "the Secret's owner labels it: kubectl label secret -n <namespace> <name> certificates.antrea.io/ca=true " +
			row("Issuers", `False, Pending, "CA Secret is not labelled for antrea-issuer"`)
	case strings.Contains(msg, "being deleted"):
		return "nothing, if it is meant to go: remove its finalizer to finish the deletion " +
			row("Issuers", `False, Pending, "the issuer is being deleted"`)
	case strings.Contains(msg, "CA Secret not found"):
		return "create the CA Secret with tls.crt and tls.key in the namespace the message names " +
			row("Issuers", `False, Pending, "CA Secret not found"`)
	case strings.Contains(msg, "not watched"):
		return fmt.Sprintf("add namespace %s to the chart's caSecretNamespaces (flag --ca-secret-namespaces) ", iss.Namespace) +
			row("Issuers", `False, Pending, "CA Secret namespace is not watched"`)
	case strings.Contains(msg, "not usable") && strings.Contains(msg, "expired") && !iss.Provided:
		return "delete the CA Secret: a new CA is generated at once; clients trust it once the re-issued Secret and antrea-ca reach them " +
			row("Issuers", `False, Pending, "CA Secret is not usable: … expired" on a generated CA`)
	case strings.Contains(msg, "not usable"):
		return "fix the CA Secret the message names (which key and why): the issuer re-checks as soon as it changes " +
			row("Issuers", `False, Pending, "CA Secret is not usable: …"`)
	case c.Reason == "Failed":
		return "fix the issuer's spec (" + describe + ") " + row("Issuers", "False, Failed")
	}
	return fmt.Sprintf("read the message and the issuer's events (%s) %s", describe, row("Issuers", "reason "+c.Reason))
}

// checkCAExpiry: each issuer's active CA (from status.ca: the CA Secret is never read) is valid,
// and will be replaced before it expires.
func checkCAExpiry(s *State, o Options) []Result {
	var out []Result
	for _, iss := range orderedIssuers(s) {
		out = append(out, caExpiry(iss, s.Now))
	}
	return out
}

func caExpiry(iss Issuer, now time.Time) Result {
	ca := iss.CA
	if ca == nil || ca.Active == nil {
		return skipped(CheckCAExpiry, iss.Ref(), "the issuer publishes no CA in status.ca yet (see its Ready line)")
	}
	a := ca.Active
	left := a.NotAfter.Sub(now)
	desc := fmt.Sprintf("active CA %q expires %s (%d days left)", a.Subject, date(a.NotAfter.Time), daysLeft(now, a.NotAfter.Time))
	provided := iss.Provided
	switch {
	case now.Before(a.NotBefore.Time):
		return problem(CheckCAExpiry, StatusError, iss.Ref(), "check the clocks, or replace the CA "+row("Issuers", `False, Pending, "CA Secret is not usable: …"`),
			"active CA %q is not valid before %s", a.Subject, date(a.NotBefore.Time))
	case left <= 0 && provided:
		return problem(CheckCAExpiry, StatusError, iss.Ref(), "replace the provided CA in its Secret "+row("Issuers", `False, Pending, "CA Secret is not usable: …"`),
			"active CA %q expired at %s", a.Subject, date(a.NotAfter.Time))
	case left <= 0:
		return problem(CheckCAExpiry, StatusError, iss.Ref(), "delete the CA Secret: a new CA is generated at once "+
			row("Issuers", `False, Pending, "CA Secret is not usable: … expired" on a generated CA`),
			"active CA %q expired at %s", a.Subject, date(a.NotAfter.Time))
	}
	if provided {
		if left < providedCAWarning {
			return problem(CheckCAExpiry, StatusWarning, iss.Ref(),
				"stage the replacement CA as next.tls.crt and next.tls.key in the CA Secret ("+docRotation+")", "%s: a provided CA is replaced by its owner only", desc)
		}
		return ok(CheckCAExpiry, iss.Ref(), "%s", desc)
	}
	renewBefore, minPhase := defaultRenewBefore, minPhaseDuration(iss)
	if iss.RenewBefore > 0 {
		renewBefore = iss.RenewBefore
	}
	// Phases still to run before the active CA stops mattering: Steady (due) → Prepared →
	// Activated → Steady, each at least minPhaseDuration.
	remaining := 3
	switch ca.Phase {
	case "Prepared":
		remaining = 2
	case "Activated":
		remaining = 1
	}
	if left < time.Duration(remaining)*minPhase {
		return problem(CheckCAExpiry, StatusError, iss.Ref(), "see the ca-rotation line for what the rotation waits for ("+docRotation+")",
			"%s, before the %d remaining rotation phases (at least %s each) can complete", desc, remaining, minPhase)
	}
	if ca.Phase == phaseSteady && ca.Next == nil && left < renewBefore {
		return problem(CheckCAExpiry, StatusWarning, iss.Ref(), "see the ca-rotation line for what the rotation waits for ("+docRotation+")",
			"%s: rotation is due (renewBefore %s) but has not started", desc, renewBefore)
	}
	if ca.Next != nil {
		desc += fmt.Sprintf("; next CA %q (expires %s) is trusted", ca.Next.Subject, date(ca.Next.NotAfter.Time))
	}
	return ok(CheckCAExpiry, iss.Ref(), "%s", desc)
}

func minPhaseDuration(iss Issuer) time.Duration {
	if iss.MinPhaseDuration > 0 {
		return iss.MinPhaseDuration
	}
	return defaultMinPhaseDuration
}

// checkRotation: each issuer's rotation phase and what it waits for (the CARotation condition),
// a warning when a phase lasts far longer than minPhaseDuration. Issuers without status.ca get no
// line (ca-expiry already says so).
func checkRotation(s *State, o Options) []Result {
	var out []Result
	for _, iss := range orderedIssuers(s) {
		ca := iss.CA
		if ca == nil {
			continue
		}
		out = append(out, rotation(iss, ca, s.Now))
	}
	return out
}

func rotation(iss Issuer, ca *CAStatus, now time.Time) Result {
	phase := ca.Phase
	if phase == "" {
		phase = "unknown"
	}
	msg := "phase " + phase
	var inPhase time.Duration
	if !ca.PhaseSince.IsZero() {
		inPhase = now.Sub(ca.PhaseSince.Time)
		msg += fmt.Sprintf(" since %s (%s ago)", date(ca.PhaseSince.Time), age(inPhase))
	}
	c := meta.FindStatusCondition(iss.Conditions, conditionCARotation)
	if c != nil {
		msg += fmt.Sprintf(": %s (%s)", c.Message, c.Reason)
	}
	minPhase := minPhaseDuration(iss)
	stuckAfter := max(time.Hour, 10*minPhase)
	waiting := phase != phaseSteady || (c != nil && c.Reason == "Waiting")
	if waiting && inPhase > stuckAfter {
		return problem(CheckRotation, StatusWarning, iss.Ref(),
			"make what it waits for happen; a Certificate that keeps failing (kubectl get certificates -A) blocks it ("+docRotation+")",
			"%s: more than %s in this phase (minPhaseDuration %s)", msg, age(stuckAfter), minPhase)
	}
	return ok(CheckRotation, iss.Ref(), "%s", msg)
}
