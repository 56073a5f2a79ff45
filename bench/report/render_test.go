package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/promptml/promptml/shared/store"
)

// TestRenderReport renders a report from made-up results and checks that
// every figure lands, with its median, its command and the target verdicts;
// and that a JSON round trip (make bench's results.json, -from) renders the
// same text.
func TestRenderReport(t *testing.T) {
	s := time.Second
	rep := &report{
		Machine: machine{Cores: 2, MemoryGiB: 23.5, CPU: "Test CPU", OS: "linux/amd64", Go: "go1.26"},
		Runs:    3, Started: time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC), Duration: 600 * s,
		Compare: &compareResult{Rows: 1000, Concurrency: 32, Latency: 200 * time.Millisecond, IdealSeconds: 6.4,
			Promptml:         []toolRun{{Wall: 20 * s, Work: 9 * s, PeakMiB: 300, Procs: 5, Score: 0.95, Calls: 1000}, {Wall: 22 * s, Work: 8 * s, PeakMiB: 310}, {Wall: 21 * s, Work: 10 * s, PeakMiB: 305}},
			Promptfoo:        []toolRun{{Wall: 40 * s, Work: 30 * s, PeakMiB: 400, Procs: 3, Score: 0.955, Calls: 1000}, {Wall: 41 * s, Work: 31 * s, PeakMiB: 420}, {Wall: 39 * s, Work: 29 * s, PeakMiB: 410}},
			PromptfooVersion: "0.121.20", NodeVersion: "v20", PromptmlCommand: "bin/promptml local --data x", PromptfooCommand: "promptfoo eval", SimCommand: "bin/promptml sim-server"},
		Intake: []*intakeResult{
			{Rows: 1000000, Bytes: 102_000_000, BatchSize: 1000, Batches: 1000, Command: "bin/promptml functions --target OnDatasetUpload",
				Runs: []intakeRun{{Wall: 19 * s, PeakMiB: 98, RowsPerS: 52631}, {Wall: 18 * s, PeakMiB: 95, RowsPerS: 55555}, {Wall: 20 * s, PeakMiB: 99, RowsPerS: 50000}}, ColdStarts: []time.Duration{4 * s}},
			{Rows: 1000000, BatchSize: 20, Batches: 50000, Runs: []intakeRun{{Wall: 200 * s, PeakMiB: 90, RowsPerS: 5000}}},
		},
		Economy: &economyResult{Sample: "samples/translation-fr.csv", Commands: []string{"bin/promptml run x"}, Runs: []economyRun{
			{Label: "cache off", Usage: store.Usage{Calls: 224}, Primary: store.Usage{Calls: 220}},
			{Label: "cache on, first run (fills the cache)", Usage: store.Usage{Calls: 224}, Primary: store.Usage{Calls: 220}},
			{Label: "cache on, rerun", Usage: store.Usage{CacheHits: 224}},
		}},
		Efficiency: "## Pipeline efficiency\n\nratio 0.93\n\n### Where the time goes\n",
	}
	var buf bytes.Buffer
	rep.render(&buf)
	got := buf.String()
	for _, want := range []string{
		"Machine: 2 cores, 23.5 GiB memory, Test CPU",
		"median of 3 runs",
		"## (1) Pipeline efficiency\n\nratio 0.93\n\n### Where the time goes", // the included section, nested
		"| command wall time | **21.00 s** (20.00–22.00) | **40.00 s** (39.00–41.00) |",
		"| evaluation time | 9.00 s",
		"**305 MiB** (300–310), 5 processes",
		"| (2) against promptfoo | promptml no slower at equal concurrency (32) | evaluation 9.00 s vs 30.00 s; command 21.00 s vs 40.00 s | **met** |",
		"| (3) intake, batch_size 1000 | ≥ 50,000 rows/s, ≤ 256 MiB | 52631 rows/s, 98 MiB | **met** |",
		"| (3) intake, batch_size 20 | ≥ 50,000 rows/s, ≤ 256 MiB | 5000 rows/s, 90 MiB | **not met** |",
		"| (4) call economy | zero primary calls on the cached rerun | 0 primary calls, 224 cache hits | **met** |",
		"| cache on, rerun | 0 | **0** | 0 | 224 |",
		"bin/promptml run x",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s", got)
	}

	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	var buf2 bytes.Buffer
	back.render(&buf2)
	if buf2.String() != got {
		t.Errorf("the report rendered from results.json differs")
	}

	var empty bytes.Buffer
	(&report{Runs: 1, EfficiencyMissing: "bench/out/efficiency.md"}).render(&empty)
	for _, want := range []string{"Not measured in this report: `bench/out/efficiency.md` was not written", "## (2) Against promptfoo\n\nNot run in this report."} {
		if !strings.Contains(empty.String(), want) {
			t.Errorf("empty report lacks %q", want)
		}
	}
}

func TestVersionOf(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "0.121.20\n", "0.121.20"},
		{"node", "v20.20.2\n", "v20.20.2"},
		{"warning first", "Node.js 20 support in promptfoo ended July 30, 2026.\nUpgrade to Node.js 22.\n0.121.20\n", "0.121.20"},
		{"no version", "something else\n", "something else"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionOf(tt.in); got != tt.want {
				t.Errorf("versionOf(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseEfficiency(t *testing.T) {
	md, err := os.ReadFile("testdata/efficiency.md")
	if err != nil {
		t.Fatal(err)
	}
	got := parseEfficiency(string(md))
	want := efficiencyFigures{ok: true, ratio: 0.885, sequential: 0.900, wall: 39.55, ideal: 35.02, latency: "200ms"}
	if got != want {
		t.Errorf("parseEfficiency = %+v, want %+v", got, want)
	}
	if f := parseEfficiency("## Pipeline efficiency\n\nratio 0.93\n"); f.ok {
		t.Errorf("parseEfficiency of a section without the table = %+v, want not ok", f)
	}
}
