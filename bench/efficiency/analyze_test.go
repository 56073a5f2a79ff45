package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/store"
)

func TestInFlight(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tests := []struct {
		name     string
		calls    []call
		bound    int
		wantMax  int
		wantMean float64
		wantOver float64
	}{
		{"none", nil, 2, 0, 0, 0},
		{"back to back is one at a time", []call{{at(0), at(100)}, {at(100), at(200)}}, 1, 1, 1, 0},
		{"overlap", []call{{at(0), at(100)}, {at(50), at(150)}}, 2, 2, 200.0 / 150, 0},
		{"above the bound half the time", []call{{at(0), at(100)}, {at(50), at(100)}}, 1, 2, 1.5, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotMax, gotMean, gotOver := inFlight(tt.calls, tt.bound)
			if gotMax != tt.wantMax || !near(gotMean, tt.wantMean) || !near(gotOver, tt.wantOver) {
				t.Errorf("inFlight = %d, %.3f, %.3f; want %d, %.3f, %.3f", gotMax, gotMean, gotOver, tt.wantMax, tt.wantMean, tt.wantOver)
			}
		})
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// TestAnalyzeStages: phases fanned out together form one stage, each
// stage's time is cut into segments that add up to the wall time, and the
// ideal counts every call.
func TestAnalyzeStages(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	res := func(startMS int) pipeline.Result {
		return pipeline.Result{StartedAt: at(startMS), LatencyMS: 100}
	}
	raw := &rawRun{
		Uploaded: t0,
		Run: store.Run{FinishedAt: at(2000), BestVal: 0.9, Usage: store.Usage{Calls: 5},
			UsageByModel: map[string]store.Usage{"sim/sim-primary": {Calls: 4}, "sim/sim-optimizer": {Calls: 1}}},
		Phases: []store.Phase{
			{ID: "train-a", Split: "train", CreatedAt: at(100), TriggeredAt: at(400), DoneAt: at(500)},
			{ID: "val-a", Split: "val", CreatedAt: at(101), TriggeredAt: at(350), DoneAt: at(450)},
			{ID: "val-b", Split: "val", CreatedAt: at(800), TriggeredAt: at(1200), DoneAt: at(1300)},
			{ID: "test-a", Split: "test", CreatedAt: at(1500), TriggeredAt: at(1900), DoneAt: at(1950)},
		},
		Results: map[string][]pipeline.Result{
			"train-a": {res(200), res(250)},
			"val-a":   {res(200)},
			"val-b":   {res(900)},
			// A cached answer made no call.
			"test-a": {{StartedAt: at(1600), LatencyMS: 0, Cached: true}},
		},
	}
	m, err := analyze(raw, options{latency: 100 * time.Millisecond, concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var sum time.Duration
	for _, s := range m.Stages {
		names = append(names, s.Name)
		sum += s.total()
	}
	want := []string{"baseline (train + val of v0)", "epoch 1: propose + candidate val", "test (initial + best)"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("stages mismatch (-want +got):\n%s", diff)
	}
	if sum+m.Export != m.Wall || m.Wall != 2*time.Second {
		t.Errorf("stages add up to %v + export %v, wall %v; want the 2s wall", sum, m.Export, m.Wall)
	}
	b := m.Stages[0]
	if b.Calls != 3 || b.Transition != 100*time.Millisecond || b.Dispatch != 100*time.Millisecond ||
		b.CallSpan != 150*time.Millisecond || b.IdealCalls != 150*time.Millisecond || b.FanIn != 50*time.Millisecond || b.Aggregate != 100*time.Millisecond {
		t.Errorf("baseline stage = %+v", b)
	}
	if m.Ideal != 250*time.Millisecond || m.IdealPath != 300*time.Millisecond || m.Optimizer != 1 || m.Primary != 4 {
		t.Errorf("ideal %v, on the critical path %v, calls %d+%d; want 250ms, 300ms, 4+1", m.Ideal, m.IdealPath, m.Primary, m.Optimizer)
	}
	if m.MaxInFlight != 3 {
		t.Errorf("max in flight %d, want 3 (train-a and val-a overlap)", m.MaxInFlight)
	}
	md := report([]*measurement{m}, options{runs: 1, examples: 10, epochs: 1, latency: 100 * time.Millisecond, concurrency: 2, batchSize: 5})
	for _, s := range []string{"| **efficiency = ideal ÷ wall** | 0.125 |", "| baseline (train + val of v0) | 3 |", "go run ./bench/efficiency"} {
		if !strings.Contains(md, s) {
			t.Errorf("report lacks %q:\n%s", s, md)
		}
	}
}
