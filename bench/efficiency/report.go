package main

import (
	"fmt"
	"strings"
	"time"
)

// report writes the markdown section: the medians over the runs, then
// where the time went, stage by stage.
func report(ms []*measurement, o options) string {
	med := func(f func(*measurement) float64) float64 {
		xs := make([]float64, len(ms))
		for i, m := range ms {
			xs[i] = f(m)
		}
		return median(xs)
	}
	sec := func(d time.Duration) float64 { return d.Seconds() }
	var b strings.Builder
	fmt.Fprintf(&b, "## Pipeline efficiency\n\n")
	fmt.Fprintf(&b, "Command: `go run ./bench/efficiency -runs %d -examples %d -epochs %d -latency %s -concurrency %d",
		o.runs, o.examples, o.epochs, o.latency, o.concurrency)
	fmt.Fprintf(&b, " -batch-size %d", o.batchSize)
	if o.batchConc > 0 {
		fmt.Fprintf(&b, " -batch-concurrency %d", o.batchConc)
	}
	if o.emuPush {
		b.WriteString(" -emulator-push")
	}
	if o.out != "" {
		fmt.Fprintf(&b, " -out %s", o.out)
	}
	fmt.Fprintf(&b, "`\n\nMachine: %s. Median of %d runs of `promptml local` (Firestore and Pub/Sub emulators, "+
		"in-process Cloud Storage, push delivery, the four functions as processes), %d examples, %d epochs, "+
		"simulator latency %s, at most %d LLM calls in flight (`primary.max_concurrency` on the one RunBatch instance), "+
		"batches of %d examples, response cache off.\n\n", machine(), len(ms), o.examples, o.epochs, o.latency, o.concurrency, o.batchSize)

	b.WriteString("| | median | runs |\n|---|---|---|\n")
	row := func(name, format string, f func(*measurement) float64) {
		var each []string
		for _, m := range ms {
			each = append(each, fmt.Sprintf(format, f(m)))
		}
		fmt.Fprintf(&b, "| %s | "+format+" | %s |\n", name, med(f), strings.Join(each, ", "))
	}
	row("wall time, upload → run finished (s)", "%.2f", func(m *measurement) float64 { return sec(m.Wall) })
	row("LLM calls made (primary + optimizer)", "%.0f", func(m *measurement) float64 { return float64(m.Calls) })
	row("optimizer calls (sequential)", "%.0f", func(m *measurement) float64 { return float64(m.Optimizer) })
	row(fmt.Sprintf("ideal = calls × %s ÷ %d (s)", o.latency, o.concurrency), "%.2f", func(m *measurement) float64 { return sec(m.Ideal) })
	row("**efficiency = ideal ÷ wall**", "%.3f", func(m *measurement) float64 { return m.Efficiency })
	row("ideal with the optimizer's calls sequential (s)", "%.2f", func(m *measurement) float64 { return sec(m.IdealPath) })
	row("efficiency against that", "%.3f", func(m *measurement) float64 { return m.EfficiencyPath })
	row("max calls in flight (measured)", "%.0f", func(m *measurement) float64 { return float64(m.MaxInFlight) })
	row(fmt.Sprintf("share of call time with more than %d in flight", o.concurrency), "%.4f", func(m *measurement) float64 { return m.OverShare })
	row("mean calls in flight while any was", "%.1f", func(m *measurement) float64 { return m.MeanInFlight })
	row("best val (exact match)", "%.3f", func(m *measurement) float64 { return m.Val })

	// Stages: the median of each segment, by stage name (the runs are
	// deterministic, so they have the same stages).
	ref := ms[0]
	for _, m := range ms[1:] {
		if len(m.Stages) > len(ref.Stages) {
			ref = m
		}
	}
	seg := func(i int, f func(stage) float64) float64 {
		var xs []float64
		for _, m := range ms {
			if i < len(m.Stages) && m.Stages[i].Name == ref.Stages[i].Name {
				xs = append(xs, f(m.Stages[i]))
			}
		}
		return median(xs)
	}
	b.WriteString("\nWhere the time goes (seconds, medians; `transition` = previous stage done → its phases created: " +
		"the intake for the baseline, else the aggregator's advance with the optimizer call and the gate; " +
		"`dispatch` = phases created → first model call (publish, push, RunBatch reads); `calls` = first call → last reply, " +
		"against `ideal` = the stage's calls × latency ÷ concurrency; `fan-in` = last reply → phase triggered " +
		"(results object, batch document, count); `aggregate` = triggered → phase done (phase-done hop, summary)):\n\n")
	b.WriteString("| stage | calls | transition | dispatch | calls | ideal | fan-in | aggregate | total | overhead |\n|---|---|---|---|---|---|---|---|---|---|\n")
	var tot [8]float64
	for i, s := range ref.Stages {
		v := [8]float64{
			seg(i, func(s stage) float64 { return float64(s.Calls) }),
			seg(i, func(s stage) float64 { return s.Transition.Seconds() }),
			seg(i, func(s stage) float64 { return s.Dispatch.Seconds() }),
			seg(i, func(s stage) float64 { return s.CallSpan.Seconds() }),
			seg(i, func(s stage) float64 { return s.IdealCalls.Seconds() }),
			seg(i, func(s stage) float64 { return s.FanIn.Seconds() }),
			seg(i, func(s stage) float64 { return s.Aggregate.Seconds() }),
			seg(i, func(s stage) float64 { return s.total().Seconds() }),
		}
		for j := range v {
			tot[j] += v[j]
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n",
			s.Name, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[7]-v[4])
	}
	exp := med(func(m *measurement) float64 { return sec(m.Export) })
	fmt.Fprintf(&b, "| export (last phase done → run finished) | | %.2f | | | | | | %.2f | %.2f |\n", exp, exp, exp)
	fmt.Fprintf(&b, "| **sum** | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n",
		tot[0], tot[1]+exp, tot[2], tot[3], tot[4], tot[5], tot[6], tot[7]+exp, tot[7]+exp-tot[4])
	b.WriteString("\nThe calls in flight are measured from the per-example results: each records when its call started and " +
		"its latency (limiter queue included); the simulator's part is the last `latency` of it. The reply's timestamp is " +
		"taken after the limiter has released the slot, so under load a call can appear to overlap the one that took its " +
		"slot by a few milliseconds: the share of time above the bound says whether a count above it is that jitter.\n")
	return b.String()
}
