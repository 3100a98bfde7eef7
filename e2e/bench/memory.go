package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const (
	secretNamespaces    = 8
	configMapNamespaces = 10
	// secretDataSize keeps each Secret under the API's 1 MiB limit on a Secret's data.
	secretDataSize = 1<<20 - 4096
	configMapSize  = 1024
)

// memorySample is the issuer process's memory at one moment, and the API server's for scale.
type memorySample struct {
	rss, heap, apiserver int64
}

// runMemory measures the antrea-issuer process's resident memory with nothing unrelated in the
// cluster, then with about 1 GiB of unrelated Secrets and 10 000 unrelated ConfigMaps in other
// namespaces created while it runs. Each figure is the median of samples taken once a second
// after a settling period, with a batch of requests signed before each so that the signing path
// is warm in both.
func runMemory(ctx context.Context, b *bench) error {
	const sc = "5 memory"
	l := b.lab
	b.stopIssuer() // a fresh process: nothing left over from earlier scenarios
	if err := b.ensureIssuer(ctx, defaultSetting); err != nil {
		return err
	}
	sample := func(what string) (memorySample, error) {
		if _, err := b.load.run(ctx, crRunOptions{mode: modeController, n: 100, concurrency: b.opts.concurrency}); err != nil {
			return memorySample{}, err
		}
		b.p.step("memory: %s: settling %s, then sampling once a second for 10 s", what, b.opts.settle)
		select {
		case <-time.After(b.opts.settle):
		case <-ctx.Done():
			return memorySample{}, ctx.Err()
		}
		var rss, heap, api []float64
		for range 10 {
			r, _, err := b.issuer.rss()
			if err != nil {
				return memorySample{}, err
			}
			rss = append(rss, float64(r))
			if m, err := b.issuer.metrics(); err == nil {
				heap = append(heap, m.get("go_memstats_heap_inuse_bytes"))
			}
			if pid, err := childPID("kube-apiserver"); err == nil {
				if r, _, err := procRSS(pid); err == nil {
					api = append(api, float64(r))
				}
			}
			time.Sleep(time.Second)
		}
		s := memorySample{rss: int64(median(rss)), heap: int64(median(heap)), apiserver: int64(median(api))}
		b.p.step("  antrea-issuer RSS %s (Go heap in use %s); kube-apiserver RSS %s", mib(s.rss), mib(s.heap), mib(s.apiserver))
		return s, nil
	}
	base, err := sample("no unrelated objects")
	if err != nil {
		return err
	}

	// Peak while the objects are created: the informers see every event they are sent.
	var peak atomic.Int64
	stopPeak := make(chan struct{})
	var peakWG sync.WaitGroup
	peakWG.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopPeak:
				return
			case <-t.C:
				if r, _, err := b.issuer.rss(); err == nil && r > peak.Load() {
					peak.Store(r)
				}
			}
		}
	})
	defer cleanupMemoryObjects(context.WithoutCancel(ctx), l)
	created, err := createUnrelated(ctx, b)
	close(stopPeak)
	peakWG.Wait()
	if err != nil {
		return err
	}
	loaded, err := sample(created)
	if err != nil {
		return err
	}
	ratio := float64(loaded.rss) / float64(base.rss)
	b.r.add(sc, "antrea-issuer RSS, nothing unrelated (median of 10 samples after settling)",
		fmt.Sprintf("%s (Go heap %s)", mib(base.rss), mib(base.heap)), "", "")
	b.r.add(sc, "antrea-issuer RSS with "+created,
		fmt.Sprintf("%s (Go heap %s) = %.2f ×; peak while created %s", mib(loaded.rss), mib(loaded.heap), ratio, mib(peak.Load())),
		"< 1.2 ×", verdict(ratio < 1.2, fmt.Sprintf("%.2f/1.20", ratio)))
	b.r.add(sc, "kube-apiserver RSS, for scale (it caches every Secret)",
		fmt.Sprintf("%s → %s", mib(base.apiserver), mib(loaded.apiserver)), "", "")
	b.r.section(sc)
	return nil
}

// createUnrelated creates the unrelated Secrets and ConfigMaps and says what it created.
func createUnrelated(ctx context.Context, b *bench) (string, error) {
	l := b.lab
	// Protobuf: the Secrets' bytes travel as they are, not in base64 JSON.
	cfg := rest.CopyConfig(l.admin)
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	for i := range secretNamespaces {
		if err := l.ensureNamespace(ctx, fmt.Sprintf("bench-mem-s-%d", i)); err != nil {
			return "", err
		}
	}
	for i := range configMapNamespaces {
		if err := l.ensureNamespace(ctx, fmt.Sprintf("bench-mem-cm-%d", i)); err != nil {
			return "", err
		}
	}
	nSecrets := (b.opts.secretMiB*(1<<20) + secretDataSize - 1) / secretDataSize
	payload := make([]byte, secretDataSize)
	if _, err := rand.Read(payload); err != nil {
		return "", err
	}
	b.p.step("memory: creating %d Secrets of %d KiB (%s) in %d namespaces", nSecrets, secretDataSize/1024,
		mib(int64(nSecrets)*secretDataSize), secretNamespaces)
	start := time.Now()
	if err := parallel(ctx, nSecrets, 4, func(i int) error {
		data := make([]byte, len(payload))
		copy(data, payload)
		binary.LittleEndian.PutUint64(data, uint64(i)) // every Secret distinct
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("bench-mem-s-%d", i%secretNamespaces), Name: fmt.Sprintf("unrelated-%d", i)},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{"blob": data},
		}
		_, err := kube.CoreV1().Secrets(s.Namespace).Create(ctx, s, metav1.CreateOptions{})
		if i > 0 && i%256 == 0 {
			b.p.step("  %d/%d Secrets", i, nSecrets)
		}
		return err
	}); err != nil {
		return "", err
	}
	b.p.step("  Secrets created in %s; creating %d ConfigMaps of 1 KiB in %d namespaces", time.Since(start).Round(time.Second), b.opts.configMaps, configMapNamespaces)
	blob := make([]byte, configMapSize)
	for i := range blob {
		blob[i] = 'a' + byte(i%26)
	}
	if err := parallel(ctx, b.opts.configMaps, 16, func(i int) error {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("bench-mem-cm-%d", i%configMapNamespaces), Name: fmt.Sprintf("unrelated-%d", i)},
			Data:       map[string]string{"data": string(blob)},
		}
		_, err := kube.CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{})
		if i > 0 && i%2500 == 0 {
			b.p.step("  %d/%d ConfigMaps", i, b.opts.configMaps)
		}
		return err
	}); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s of unrelated Secrets (%d) and %d unrelated ConfigMaps", mib(int64(nSecrets)*secretDataSize), nSecrets, b.opts.configMaps), nil
}

// cleanupMemoryObjects deletes the unrelated objects so that etcd's disk use stays bounded for
// later scenarios (envtest's etcd lives in a temporary folder removed at the end).
func cleanupMemoryObjects(ctx context.Context, l *lab) {
	for i := range secretNamespaces {
		_ = l.kube.CoreV1().Secrets(fmt.Sprintf("bench-mem-s-%d", i)).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
	}
	for i := range configMapNamespaces {
		_ = l.kube.CoreV1().ConfigMaps(fmt.Sprintf("bench-mem-cm-%d", i)).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
	}
}

// parallel runs f(0..n-1) on workers goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, f func(i int) error) error {
	work := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	var failed atomic.Bool
	for range workers {
		wg.Go(func() {
			for i := range work {
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					failed.Store(true)
				}
			}
		})
	}
	for i := range n {
		if failed.Load() {
			break
		}
		select {
		case work <- i:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
