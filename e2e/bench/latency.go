package main

import (
	"context"
	"fmt"
)

// runLatency measures approval → Ready (the approve call returned → the Ready condition seen by
// a watch) for the default flags and the best setting: idle (one request at a time), paced (an
// open-loop arrival rate below saturation) and, from the throughput runs, the saturating burst.
func runLatency(ctx context.Context, b *bench) error {
	const sc = "2 latency"
	settings := []setting{defaultSetting}
	if best := b.bestSetting(); best != defaultSetting {
		settings = append(settings, best)
	}
	for _, s := range settings {
		if err := b.ensureIssuer(ctx, s); err != nil {
			return err
		}
		b.p.step("latency %s: idle, %d requests one at a time", s.Name, b.opts.idleN)
		// A few requests first so that the measured ones do not pay for the first connections.
		if _, err := b.load.run(ctx, crRunOptions{mode: modeController, n: 10, concurrency: 1, waitEach: true}); err != nil {
			return err
		}
		idle, err := b.load.run(ctx, crRunOptions{mode: modeController, n: b.opts.idleN, concurrency: 1, waitEach: true})
		if err != nil {
			return err
		}
		b.p.step("  idle: %s", pcts(idle.latencies))
		b.r.add(sc, fmt.Sprintf("approval → Ready, idle (1 at a time, N=%d), %s", b.opts.idleN, s.Name), pcts(idle.latencies), "", "")

		b.p.step("latency %s: paced, %d requests at %.0f/s", s.Name, b.opts.pacedN, b.opts.pacedRate)
		paced, err := b.load.run(ctx, crRunOptions{mode: modeController, n: b.opts.pacedN, concurrency: b.opts.concurrency, rate: b.opts.pacedRate})
		if err != nil {
			return err
		}
		b.p.step("  paced: %s (achieved %.1f/s)", pcts(paced.latencies), paced.rate())
		b.r.add(sc, fmt.Sprintf("approval → Ready, load %.0f CR/s (N=%d), %s", b.opts.pacedRate, b.opts.pacedN, s.Name), pcts(paced.latencies), "", "")
	}
	if b.throughput != nil {
		for _, run := range b.throughput.runs {
			if run.setting != defaultSetting && run != b.throughput.best {
				continue
			}
			b.r.add(sc, fmt.Sprintf("approval → Ready, saturated burst (N=%d, %d at once), %s", b.opts.n, b.opts.concurrency, run.setting.Name),
				pcts(run.controller.latencies), "", "queueing: ≈ position / throughput")
		}
	}
	b.r.section(sc)
	return nil
}
