package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// percentile returns the q-quantile (0..1) of ds by the nearest-rank method.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	}
}

func pcts(ds []time.Duration) string {
	return fmt.Sprintf("p50 %s / p90 %s / p99 %s", ms(percentile(ds, 0.5)), ms(percentile(ds, 0.9)), ms(percentile(ds, 0.99)))
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// row is one line of the result table.
type row struct {
	scenario, measure, value, target, verdict string
}

// report collects rows and prints each scenario's as it completes.
type report struct {
	out  io.Writer
	rows []row
}

func (r *report) add(scenario, measure, value, target, verdict string) {
	r.rows = append(r.rows, row{scenario, measure, value, target, verdict})
}

// section prints the rows of one scenario.
func (r *report) section(scenario string) {
	var rows []row
	for _, x := range r.rows {
		if x.scenario == scenario {
			rows = append(rows, x)
		}
	}
	fmt.Fprintln(r.out)
	printTable(r.out, rows)
	fmt.Fprintln(r.out)
}

func (r *report) print() { printTable(r.out, r.rows) }

// printTable prints rows as a Markdown table, columns padded so it also reads as plain text.
func printTable(w io.Writer, rows []row) {
	head := row{"scenario", "measure", "value", "target", "vs target"}
	all := append([]row{head}, rows...)
	width := make([]int, 5)
	for _, x := range all {
		for i, c := range x.cells() {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(x row) {
		cells := x.cells()
		for i, c := range cells {
			cells[i] = c + strings.Repeat(" ", width[i]-len([]rune(c)))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	line(head)
	seps := make([]string, 5)
	for i := range seps {
		seps[i] = strings.Repeat("-", width[i])
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(seps, " | "))
	for _, x := range rows {
		line(x)
	}
}

func (x row) cells() []string { return []string{x.scenario, x.measure, x.value, x.target, x.verdict} }

// verdict says how a value compares with its target.
func verdict(ok bool, ratio string) string {
	if ok {
		return "met (" + ratio + ")"
	}
	return "MISSED (" + ratio + ")"
}
