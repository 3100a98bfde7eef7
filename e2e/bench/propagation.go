package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsv1ac "k8s.io/apiextensions-apiserver/pkg/client/applyconfiguration/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	admissionregistrationv1ac "k8s.io/client-go/applyconfigurations/admissionregistration/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	apiregistrationv1ac "k8s.io/kube-aggregator/pkg/client/applyconfiguration/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"antrea.io/antrea-issuer/e2e/internal/antreasim"
)

// runPropagation changes the ca.crt of Antrea's Secret M times and measures, for each change,
// the time from the Secret write to the moment every target (the antrea-ca ConfigMap, Antrea's
// three APIServices, its two mutating and one validating webhook configurations, and the IPPool
// CRD's conversion webhook) carries the new bytes, as seen by watches on every target kind.
func runPropagation(ctx context.Context, b *bench) error {
	const sc = "4 propagation"
	l := b.lab
	if err := b.ensureIssuer(ctx, defaultSetting); err != nil {
		return err
	}
	srv, err := antreasim.NewServer()
	if err != nil {
		return err
	}
	defer srv.Close()
	ns := antreasim.Namespace
	if _, err := antreasim.CreateAntreaTargets(ctx, l.c, ns, antreasim.WithoutAPIServices()); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	if err := antreasim.RegisterWithAggregator(ctx, l.c, srv, ns); err != nil {
		return err
	}
	b.p.step("propagation: generating %d CAs", b.opts.changes+1)
	materials := make([]*antreasim.Material, b.opts.changes+1)
	for i := range materials {
		if materials[i], err = antreasim.NewMaterial(fmt.Sprintf("bench-ca-%d", i), ns); err != nil {
			return err
		}
	}
	tr, err := newBundleTracker(ctx, l, ns)
	if err != nil {
		return err
	}
	defer tr.stop()

	write := func(m *antreasim.Material) (time.Time, error) {
		if err := srv.SetKeyPair(m.Serving.CertPEM, m.Serving.KeyPEM); err != nil {
			return time.Time{}, err
		}
		want := m.CertManagerSecret(ns, antreasim.SecretName)
		start := time.Now()
		cur := &corev1.Secret{}
		err := l.c.Get(ctx, client.ObjectKeyFromObject(want), cur)
		switch {
		case apierrors.IsNotFound(err):
			err = l.c.Create(ctx, want)
		case err == nil:
			cur.Data = want.Data
			err = l.c.Update(ctx, cur)
		}
		return start, err
	}
	if _, err := write(materials[0]); err != nil {
		return err
	}
	if _, _, err := tr.waitFor(ctx, fingerprintOf(materials[0].CA.CertPEM), 60*time.Second); err != nil {
		return fmt.Errorf("initial sync: %w", err)
	}
	before, err := b.issuer.metrics()
	if err != nil {
		return err
	}
	b.p.step("propagation: %d changes of ca.crt to %d targets", b.opts.changes, len(tr.expected))
	lat := make([]time.Duration, 0, b.opts.changes)
	perTarget := map[string][]time.Duration{}
	for i := 1; i <= b.opts.changes; i++ {
		start, err := write(materials[i])
		if err != nil {
			return err
		}
		done, each, err := tr.waitFor(ctx, fingerprintOf(materials[i].CA.CertPEM), 30*time.Second)
		if err != nil {
			return fmt.Errorf("change %d: %w", i, err)
		}
		lat = append(lat, done.Sub(start))
		for k, t := range each {
			perTarget[k] = append(perTarget[k], t.Sub(start))
		}
		if i%10 == 0 {
			b.p.step("  %d/%d changes, last %s", i, b.opts.changes, ms(done.Sub(start)))
		}
	}
	after, err := b.issuer.metrics()
	if err != nil {
		return err
	}
	h := after.histogram("antrea_issuer_cainject_propagation_seconds").minus(before.histogram("antrea_issuer_cainject_propagation_seconds"))
	avail := "Available=True"
	for _, name := range antreasim.APIServiceNames() {
		if err := antreasim.WaitAPIServiceAvailable(ctx, l.c, name, 30*time.Second); err != nil {
			avail = fmt.Sprintf("%s not Available: %v", name, err)
			break
		}
	}
	p50, p99 := percentile(lat, 0.5), percentile(lat, 0.99)
	b.r.add(sc, fmt.Sprintf("Secret ca.crt write → all %d targets carry it (M=%d changes)", len(tr.expected), b.opts.changes),
		fmt.Sprintf("p50 %s / p99 %s / max %s", ms(p50), ms(p99), ms(percentile(lat, 1))), "p99 < 250 ms",
		verdict(p99 < 250*time.Millisecond, fmt.Sprintf("%.2f of the budget", float64(p99)/float64(250*time.Millisecond))))
	b.r.add(sc, "same, by the controller's own histogram (seen → all written)",
		fmt.Sprintf("mean %s, p99 ≤ %s bucket, %.0f samples", ms(h.mean()), ms(time.Duration(h.quantileUpperBound(0.99)*float64(time.Second))), h.count), "", "")
	type arrival struct {
		target string
		p50    time.Duration
	}
	var order []arrival
	for k, ds := range perTarget {
		order = append(order, arrival{k, percentile(ds, 0.5)})
	}
	sort.Slice(order, func(i, j int) bool { return order[i].p50 < order[j].p50 })
	var parts []string
	for _, a := range order {
		parts = append(parts, fmt.Sprintf("%s %s", a.target, ms(a.p50)))
	}
	b.p.step("  median arrival after the Secret write, by target: %s", strings.Join(parts, ", "))
	b.r.add(sc, "median arrival by target (the sync sends up to 8 applies at once)", strings.Join(parts, "; "), "", "")
	b.r.add(sc, "Antrea's APIServices after the last change (real aggregator)", avail, "", "")

	// What the same writes cost when sent one after another or all at once, by a bare client
	// (antrea-issuer stopped): the bound a parallel sync would approach.
	b.stopIssuer()
	rounds := min(b.opts.changes, 20)
	for _, parallel := range []bool{false, true} {
		how := "one after another"
		if parallel {
			how = "all at once"
		}
		var ds []time.Duration
		for i := range rounds {
			m := materials[i%len(materials)]
			if i%2 == 1 {
				m = materials[(i+1)%len(materials)]
			}
			start := time.Now()
			if err := applyBundle(ctx, l, ns, m.CA.CertPEM, parallel); err != nil {
				return err
			}
			done, _, err := tr.waitFor(ctx, fingerprintOf(m.CA.CertPEM), 30*time.Second)
			if err != nil {
				return fmt.Errorf("bare-client applies: %w", err)
			}
			ds = append(ds, done.Sub(start))
		}
		b.p.step("  bare client, the same %d applies %s: %s", len(tr.expected), how, pcts(ds))
		b.r.add(sc, fmt.Sprintf("bare client sending the same %d applies %s (%d rounds)", len(tr.expected), how, rounds), pcts(ds), "", "")
	}
	b.r.section(sc)
	return nil
}

func fingerprintOf(b []byte) string {
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%x", sum[:8])
}

// bundleTracker watches every CA bundle target and knows when each last changed.
type bundleTracker struct {
	cancel   context.CancelFunc
	expected []string

	mu      sync.Mutex
	fp      map[string]string    // target -> fingerprint of its bundle ("mixed" for webhooks that differ)
	changed map[string]time.Time // target -> when its bundle was last seen changing
	notify  chan struct{}
	err     error
}

func newBundleTracker(ctx context.Context, l *lab, ns string) (*bundleTracker, error) {
	ctx, cancel := context.WithCancel(ctx)
	t := &bundleTracker{cancel: cancel, fp: map[string]string{}, changed: map[string]time.Time{}, notify: make(chan struct{})}
	t.expected = append(t.expected, "ConfigMap/"+antreasim.CAConfigMapName)
	for _, n := range antreasim.APIServiceNames() {
		t.expected = append(t.expected, "APIService/"+n)
	}
	for _, m := range antreasim.MutatingWebhookConfigurations(ns) {
		t.expected = append(t.expected, "Mutating/"+m.Name)
	}
	for _, v := range antreasim.ValidatingWebhookConfigurations(ns) {
		t.expected = append(t.expected, "Validating/"+v.Name)
	}
	t.expected = append(t.expected, "CRD/"+antreasim.IPPoolCRDName)

	wc, err := client.NewWithWatch(l.admin, client.Options{Scheme: l.env.Scheme})
	if err != nil {
		cancel()
		return nil, err
	}
	sel := client.MatchingLabels(antreasim.Labels())
	watches := []struct {
		list client.ObjectList
		opts []client.ListOption
	}{
		{&corev1.ConfigMapList{}, []client.ListOption{client.InNamespace(ns), client.MatchingFields{"metadata.name": antreasim.CAConfigMapName}}},
		{&apiregistrationv1.APIServiceList{}, []client.ListOption{sel}},
		{&admissionregistrationv1.MutatingWebhookConfigurationList{}, []client.ListOption{sel}},
		{&admissionregistrationv1.ValidatingWebhookConfigurationList{}, []client.ListOption{sel}},
		{&apiextensionsv1.CustomResourceDefinitionList{}, []client.ListOption{sel}},
	}
	for _, w := range watches {
		wi, err := wc.Watch(ctx, w.list, w.opts...)
		if err != nil {
			cancel()
			return nil, err
		}
		go func() {
			defer wi.Stop()
			for ev := range wi.ResultChan() {
				switch ev.Type {
				case watch.Added, watch.Modified:
					if obj, ok := ev.Object.(client.Object); ok {
						t.observe(obj, time.Now())
					}
				case watch.Error:
					t.mu.Lock()
					t.err = fmt.Errorf("watch error: %v", ev.Object)
					t.mu.Unlock()
				}
			}
		}()
	}
	return t, nil
}

func (t *bundleTracker) observe(obj client.Object, now time.Time) {
	var key string
	var bundles [][]byte
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		key, bundles = "ConfigMap/"+o.Name, [][]byte{[]byte(o.Data[antreasim.CAKey])}
	case *apiregistrationv1.APIService:
		key, bundles = "APIService/"+o.Name, [][]byte{o.Spec.CABundle}
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		key = "Mutating/" + o.Name
		for _, w := range o.Webhooks {
			bundles = append(bundles, w.ClientConfig.CABundle)
		}
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		key = "Validating/" + o.Name
		for _, w := range o.Webhooks {
			bundles = append(bundles, w.ClientConfig.CABundle)
		}
	case *apiextensionsv1.CustomResourceDefinition:
		key = "CRD/" + o.Name
		if c := o.Spec.Conversion; c != nil && c.Webhook != nil && c.Webhook.ClientConfig != nil {
			bundles = [][]byte{c.Webhook.ClientConfig.CABundle}
		}
	default:
		return
	}
	fp := "none"
	for i, b := range bundles {
		f := fingerprintOf(b)
		if i == 0 {
			fp = f
		} else if f != fp {
			fp = "mixed"
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fp[key] != fp {
		t.fp[key] = fp
		t.changed[key] = now
		close(t.notify)
		t.notify = make(chan struct{})
	}
}

// waitFor waits until every expected target carries fp and returns when the last of them
// was seen changing to it, and when each did.
func (t *bundleTracker) waitFor(ctx context.Context, fp string, timeout time.Duration) (time.Time, map[string]time.Time, error) {
	deadline := time.After(timeout)
	for {
		t.mu.Lock()
		var last time.Time
		missing := ""
		each := map[string]time.Time{}
		for _, k := range t.expected {
			if t.fp[k] != fp {
				missing = k
				break
			}
			each[k] = t.changed[k]
			if t.changed[k].After(last) {
				last = t.changed[k]
			}
		}
		ch, err := t.notify, t.err
		t.mu.Unlock()
		if missing == "" {
			return last, each, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return time.Time{}, nil, ctx.Err()
		case <-deadline:
			return time.Time{}, nil, fmt.Errorf("after %s %s does not carry the new bundle (watch error: %v)", timeout, missing, err)
		}
	}
}

func (t *bundleTracker) stop() { t.cancel() }

// applyBundle server-side applies bundle to every target as the CA bundle sync does (only the
// bundle fields, forced), one after another or all at once.
func applyBundle(ctx context.Context, l *lab, ns string, bundle []byte, parallel bool) error {
	const owner = "antrea-issuer-bench"
	var acs []runtime.ApplyConfiguration
	acs = append(acs, corev1ac.ConfigMap(antreasim.CAConfigMapName, ns).
		WithLabels(map[string]string{antreasim.LabelApp: antreasim.AppAntrea}).
		WithData(map[string]string{antreasim.CAKey: string(bundle)}))
	for _, name := range antreasim.APIServiceNames() {
		acs = append(acs, apiregistrationv1ac.APIService(name).WithSpec(apiregistrationv1ac.APIServiceSpec().WithCABundle(bundle...)))
	}
	for _, m := range antreasim.MutatingWebhookConfigurations(ns) {
		ac := admissionregistrationv1ac.MutatingWebhookConfiguration(m.Name)
		for _, w := range m.Webhooks {
			ac.WithWebhooks(admissionregistrationv1ac.MutatingWebhook().WithName(w.Name).
				WithClientConfig(admissionregistrationv1ac.WebhookClientConfig().WithCABundle(bundle...)))
		}
		acs = append(acs, ac)
	}
	for _, v := range antreasim.ValidatingWebhookConfigurations(ns) {
		ac := admissionregistrationv1ac.ValidatingWebhookConfiguration(v.Name)
		for _, w := range v.Webhooks {
			ac.WithWebhooks(admissionregistrationv1ac.ValidatingWebhook().WithName(w.Name).
				WithClientConfig(admissionregistrationv1ac.WebhookClientConfig().WithCABundle(bundle...)))
		}
		acs = append(acs, ac)
	}
	acs = append(acs, apiextensionsv1ac.CustomResourceDefinition(antreasim.IPPoolCRDName).
		WithSpec(apiextensionsv1ac.CustomResourceDefinitionSpec().
			WithConversion(apiextensionsv1ac.CustomResourceConversion().
				WithWebhook(apiextensionsv1ac.WebhookConversion().
					WithClientConfig(apiextensionsv1ac.WebhookClientConfig().WithCABundle(bundle...))))))
	apply := func(ac runtime.ApplyConfiguration) error {
		return l.c.Apply(ctx, ac, client.FieldOwner(owner), client.ForceOwnership)
	}
	if !parallel {
		for _, ac := range acs {
			if err := apply(ac); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, len(acs))
	var wg sync.WaitGroup
	for i, ac := range acs {
		wg.Go(func() { errs[i] = apply(ac) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
