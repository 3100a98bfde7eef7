package cainject

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Event reasons, on the source Secret, besides the Reasons of a refused Secret.
const (
	EventReasonSynced     = "CABundleSynced"
	EventReasonSyncFailed = "CABundleSyncFailed"
	EventReasonRecovered  = "SourceUsable"
)

const eventAction = "SyncCABundle"

// waiting reports whether r is a state to wait out (a Normal event) rather than a problem to fix
// (a Warning).
func (r Reason) waiting() bool {
	switch r {
	case ReasonSecretNotFound, ReasonCAMissing, ReasonServingCertMissing, ReasonSettling:
		return true
	}
	return false
}

// reporter is what the controller remembers between passes and what it says about them
// (metrics, events, logs): the reason nothing is published now, the current episode of refusals
// (which also decides when a Secret has settled after a takeover), whether writes fail, the
// bundle being propagated and the one every target trusts, and the skipped targets.
type reporter struct {
	clock    clock.PassiveClock
	metrics  *Metrics
	recorder events.EventRecorder
	caKey    string
	settle   time.Duration
	synced   *SyncedBundle

	mu      sync.Mutex
	problem Reason // reported now; "" while publishing
	failing bool
	// pendingFP/pendingSince: a ca.crt seen in the Secret and not yet in every target.
	pendingFP    string
	pendingSince time.Time
	// syncedFP: the bundle every target trusted after the last complete pass.
	syncedFP string
	skipped  map[string]string
	ep       episode
}

// episode is what happened since a bundle was last published: each refused Secret version
// counted once by reason, the reasons already announced (one log line and one event each, however
// often the Secret flips), and the last takeover seen (which starts the settle period).
type episode struct {
	refused      map[Reason]int
	announced    map[Reason]bool
	lastTakeover time.Time
	counted      []string // resourceVersions already counted (the last few)
}

func newEpisode() episode {
	return episode{refused: map[Reason]int{}, announced: map[Reason]bool{}}
}

// count records one refused Secret version; a version seen before (by the event handler and by
// a reconcile) counts once.
func (e *episode) count(now time.Time, rv string, se *SourceError, m *Metrics) {
	if rv != "" {
		if slices.Contains(e.counted, rv) {
			return
		}
		if len(e.counted) == 16 {
			e.counted = e.counted[1:]
		}
		e.counted = append(e.counted, rv)
	}
	e.refused[se.Reason]++
	m.refusals.WithLabelValues(string(se.Reason)).Inc()
	if se.Takeover {
		e.lastTakeover = now
	}
}

// warned reports whether a Warning was emitted in the episode.
func (e *episode) warned() bool {
	for r := range e.announced {
		if !r.waiting() {
			return true
		}
	}
	return false
}

// summary lists the refused versions by reason, most frequent first: "CertificateNotChained ×11,
// SelfSignedMode ×1".
func (e *episode) summary() string {
	reasons := make([]Reason, 0, len(e.refused))
	for r := range e.refused {
		reasons = append(reasons, r)
	}
	slices.SortFunc(reasons, func(a, b Reason) int {
		if d := e.refused[b] - e.refused[a]; d != 0 {
			return d
		}
		return strings.Compare(string(a), string(b))
	})
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = fmt.Sprintf("%s ×%d", r, e.refused[r])
	}
	return strings.Join(parts, ", ")
}

func newReporter(opts Options, m *Metrics, c clock.PassiveClock, recorder events.EventRecorder) *reporter {
	return &reporter{
		clock: c, metrics: m, recorder: recorder, caKey: opts.SecretKey, settle: opts.SettlePeriod, synced: opts.Synced,
		skipped: map[string]string{}, ep: newEpisode(),
	}
}

// observe sees every version of the Secret the watch delivers, before any reconcile: it starts
// the propagation clock for a new ca.crt and counts a refused version (a takeover that lasts
// only between two reconciles still restarts the settle period).
func (r *reporter) observe(s *corev1.Secret) {
	now := r.clock.Now()
	_, err := DesiredBundle(s, r.caKey)
	fp := fingerprint(s.Data[r.caKey])
	r.mu.Lock()
	defer r.mu.Unlock()
	if fp != r.syncedFP && fp != r.pendingFP {
		r.pendingFP, r.pendingSince = fp, now
	}
	var se *SourceError
	if errors.As(err, &se) {
		r.ep.count(now, s.ResourceVersion, se, r.metrics)
	}
}

// refused reports that nothing is published: the metric always; a log line and an event the
// first time the reason appears in the episode.
func (r *reporter) refused(ctx context.Context, secret *corev1.Secret, se *SourceError) {
	r.metrics.setSourceProblem(se.Reason)
	r.mu.Lock()
	if secret != nil {
		r.ep.count(r.clock.Now(), secret.ResourceVersion, se, r.metrics)
	}
	r.problem = se.Reason
	first := !r.ep.announced[se.Reason]
	r.ep.announced[se.Reason] = true
	r.mu.Unlock()
	if first {
		r.announce(ctx, secret, se.Reason, se.Message)
	}
}

// settling returns how long a usable Secret must still wait before it is published: the rest of
// the settle period after the last takeover seen in the episode (0 when there was none).
func (r *reporter) settling(ctx context.Context, secret *corev1.Secret) time.Duration {
	now := r.clock.Now()
	r.mu.Lock()
	if r.ep.lastTakeover.IsZero() {
		r.mu.Unlock()
		return 0
	}
	remaining := r.settle - now.Sub(r.ep.lastTakeover)
	if remaining <= 0 {
		r.mu.Unlock()
		return 0
	}
	r.problem = ReasonSettling
	first := !r.ep.announced[ReasonSettling]
	r.ep.announced[ReasonSettling] = true
	summary := r.ep.summary()
	r.mu.Unlock()
	r.metrics.setSourceProblem(ReasonSettling)
	if first {
		r.announce(ctx, secret, ReasonSettling, fmt.Sprintf(
			"%s chains to %s again after the Secret was taken over (%s); it is published once no takeover has been seen for %s "+
				"(Antrea in selfSignedCert: true mode rewrites a certificate with less than 90 days left)",
			corev1.TLSCertKey, r.caKey, summary, r.settle))
	}
	return remaining
}

func (r *reporter) announce(ctx context.Context, secret *corev1.Secret, reason Reason, msg string) {
	log := logf.FromContext(ctx)
	eventType := corev1.EventTypeNormal
	if reason.waiting() {
		log.Info("waiting before publishing the CA bundle", "reason", reason, "message", msg)
	} else {
		eventType = corev1.EventTypeWarning
		log.Info("not publishing the CA bundle from the Secret; targets keep what they trust", "reason", reason, "message", msg)
	}
	if secret == nil {
		return // nothing to attach an event to
	}
	r.recorder.Eventf(secret, nil, eventType, string(reason), eventAction, "%s", truncate(msg))
}

// usable ends the episode: the Secret yields a bundle and has settled. After a Warning it says
// so once, with every refusal of the episode counted.
func (r *reporter) usable(ctx context.Context, secret *corev1.Secret, bundle Bundle) {
	r.metrics.setSourceProblem("")
	r.mu.Lock()
	ep := r.ep
	r.problem, r.ep = "", newEpisode()
	r.mu.Unlock()
	if !ep.warned() {
		return
	}
	summary := ep.summary()
	logf.FromContext(ctx).Info("source Secret usable again; publishing", "refused", summary)
	note := fmt.Sprintf("%s %s is published: %s chains to it; refused since the last publish: %s", r.caKey, bundle.Fingerprint(), corev1.TLSCertKey, summary)
	if !ep.lastTakeover.IsZero() && r.settle > 0 {
		note += fmt.Sprintf("; no takeover seen for %s", r.settle)
	}
	r.recorder.Eventf(secret, nil, corev1.EventTypeNormal, EventReasonRecovered, eventAction, "%s", truncate(note))
}

// applied reports a pass over the targets and tells controller-runtime what to do next.
func (r *reporter) applied(ctx context.Context, secret *corev1.Secret, bundle Bundle, p pass) (reconcile.Result, error) {
	log := logf.FromContext(ctx)
	var retry time.Duration
	for _, w := range p.writes {
		switch err := w.err; {
		case err == nil:
			r.metrics.writes.WithLabelValues(w.kind, "success").Inc()
			log.Info("wrote CA bundle", "kind", w.kind, "name", w.name)
		case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
			// Changed or deleted since read: its watch event brings the next pass.
			r.metrics.writes.WithLabelValues(w.kind, "conflict").Inc()
			retry = time.Second
			log.V(1).Info("target changed since read", "kind", w.kind, "name", w.name, "error", err.Error())
		default:
			r.metrics.writes.WithLabelValues(w.kind, "error").Inc()
		}
	}
	r.metrics.setTargets(p.stats)
	r.noteSkipped(ctx, p.skipped)

	st := p.stats
	if st.outOfSync == 0 {
		r.metrics.lastSync.Set(float64(r.clock.Now().UnixNano()) / 1e9)
		if r.synced != nil {
			r.synced.set(bundle.PEM)
		}
		r.syncedAll(ctx, secret, bundle, st)
		return reconcile.Result{}, nil
	}
	if len(p.errs) == 0 {
		// Only objects that changed since they were read: their watch event re-enqueues us;
		// the requeue is a safety net.
		log.V(1).Info("targets changed while being written; retrying", "outOfSync", st.outOfSync)
		return reconcile.Result{RequeueAfter: retry}, nil
	}
	err := errors.Join(p.errs...)
	if ctx.Err() != nil {
		return reconcile.Result{}, ctx.Err() // shutting down: not a failure to report
	}
	r.mu.Lock()
	first := !r.failing
	r.failing = true
	r.mu.Unlock()
	if first { // controller-runtime logs every failed attempt already
		r.recorder.Eventf(secret, nil, corev1.EventTypeWarning, EventReasonSyncFailed, eventAction,
			"%d targets out of sync: %s", st.outOfSync, truncate(err.Error()))
	}
	return reconcile.Result{}, err
}

// syncedAll closes the propagation clock and announces a newly propagated bundle.
func (r *reporter) syncedAll(ctx context.Context, secret *corev1.Secret, bundle Bundle, st passStats) {
	fp := bundle.Fingerprint()
	now := r.clock.Now()
	r.mu.Lock()
	var latency time.Duration
	measured := r.pendingFP == fp
	if measured {
		latency = now.Sub(r.pendingSince)
		r.pendingFP = ""
	}
	isNew := r.syncedFP != fp
	r.syncedFP = fp
	wasFailing := r.failing
	r.failing = false
	r.mu.Unlock()

	if measured {
		r.metrics.propagation.Observe(latency.Seconds())
	}
	log := logf.FromContext(ctx)
	if !isNew && !wasFailing {
		if st.written > 0 {
			log.Info("repaired CA bundle drift", "written", st.written, "inSync", st.inSync)
		}
		return
	}
	log.Info("CA bundle trusted by every target", "certificates", bundle.Certificates,
		"targets", st.inSync, "written", st.written, "skipped", st.skipped, "latency", latency.String())
	r.recorder.Eventf(secret, nil, corev1.EventTypeNormal, EventReasonSynced, eventAction,
		"%s %s (%d certificates) is trusted by all %d targets (%d written, %d skipped)",
		r.caKey, fp, bundle.Certificates, st.inSync, st.written, st.skipped)
}

// noteSkipped logs each selected target that cannot carry a bundle once (again when the reason
// changes) and forgets those no longer selected.
func (r *reporter) noteSkipped(ctx context.Context, now map[string]string) {
	r.mu.Lock()
	var news []string
	for id, why := range now {
		if prev, ok := r.skipped[id]; !ok || prev != why {
			news = append(news, id)
		}
	}
	r.skipped = now
	r.mu.Unlock()
	slices.Sort(news)
	for _, id := range news {
		logf.FromContext(ctx).Info("selected target cannot carry a CA bundle; left untouched", "target", id, "why", now[id])
	}
}

// truncate keeps an event note under the API's 1 kB limit.
func truncate(s string) string {
	const limit = 1000
	if len(s) <= limit {
		return s
	}
	return strings.ToValidUTF8(s[:limit-3], "") + "..."
}
