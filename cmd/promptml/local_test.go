package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/promptml/promptml/shared/localcloud"
	"github.com/promptml/promptml/shared/store"
)

func TestMain(m *testing.M) { os.Exit(localcloud.RunTests(m)) }

// buildBinary builds promptml once per test binary run: the local cloud
// starts the functions as child processes of this very binary.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "promptml")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runLocalCloud runs `promptml local` and returns its JSON summary.
func runLocalCloud(t *testing.T, bin string, args ...string) Summary {
	t.Helper()
	js := filepath.Join(t.TempDir(), "summary.json")
	args = append([]string{"local", "--project", localcloud.ProjectID(t), "--json", js}, args...)
	cmd := exec.CommandContext(t.Context(), bin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promptml %v: %v\n%s", args, err, out)
	}
	t.Logf("promptml %v:\n%s", args, out)
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLocalCloudTrainsTranslationSample(t *testing.T) {
	localcloud.RequireEmulators(t)
	bin := buildBinary(t)
	s := runLocalCloud(t, bin, "--data", "../../samples/translation-fr.csv", "--config", "../../samples/translation-fr.yaml")
	if s.Status != "succeeded" {
		t.Fatalf("status %s, error %+v", s.Status, s.Error)
	}
	if s.Initial.Val == nil || s.Final.Val == nil {
		t.Fatalf("val scores missing: initial %v final %v", s.Initial.Val, s.Final.Val)
	}
	if *s.Initial.Val > 0.5 {
		t.Errorf("initial val exact-match = %.3f, want ≤ 0.5", *s.Initial.Val)
	}
	if *s.Final.Val < 0.85 {
		t.Errorf("final val exact-match = %.3f, want ≥ 0.85", *s.Final.Val)
	}
	if s.Initial.Test == nil || s.Final.Test == nil {
		t.Errorf("test scores missing: initial %v final %v", s.Initial.Test, s.Final.Test)
	}
	// Some epoch is accepted; which one depends on the optimizer's
	// wording, no longer on fixes built from the primary's triggers (issue
	// 19), so the first may be rejected.
	if !slices.ContainsFunc(s.Epochs, func(e EpochRow) bool { return e.Accepted }) {
		t.Errorf("epochs = %+v, want an accepted epoch", s.Epochs)
	}
	if s.Dataset.Rows != 80 || s.Usage.Calls == 0 {
		t.Errorf("dataset %+v usage %+v", s.Dataset, s.Usage)
	}
}

// TestLocalCloudDuplicateDeliveries runs the same sample twice on the real
// local cloud, the second time with every push delivery and upload event
// delivered twice at once, and requires the same outcome.
func TestLocalCloudDuplicateDeliveries(t *testing.T) {
	localcloud.RequireEmulators(t)
	bin := buildBinary(t)
	args := []string{"--data", "../../samples/sentiment.csv", "--config", "../../samples/sentiment.yaml"}
	once := runLocalCloud(t, bin, args...)
	twice := runLocalCloud(t, bin, append(args, "--duplicate-deliveries")...)
	if once.Status != "succeeded" {
		t.Fatalf("single delivery: status %s %+v", once.Status, once.Error)
	}
	// Each upload is a new object generation; everything else must match.
	// A duplicate delivered at the same time as its twin may be answered
	// from the response cache its twin just filled, so how the calls split
	// between paid calls and cache hits depends on timing; the number of
	// calls asked does not.
	ignore := cmp.Options{cmpopts.IgnoreFields(Summary{}, "RunID", "WallSeconds"), cmpopts.IgnoreFields(store.Dataset{}, "Generation"),
		cmpopts.IgnoreFields(store.Usage{}, "Calls", "InputTokens", "OutputTokens", "CacheHits", "CostUSD")}
	if d := cmp.Diff(once, twice, ignore); d != "" {
		t.Errorf("duplicated deliveries changed the outcome (-once +twice):\n%s", d)
	}
	// Every duplicate that ran is on the run's spend ledger, as a paid
	// call or (its twin's reply cached or in flight) a cache hit: so the
	// duplicated run asked more, which also shows that duplication
	// happened. (The old check, equal counts, held only because the
	// duplicates' calls were not counted.)
	if a, b := once.Usage.Calls+once.Usage.CacheHits, twice.Usage.Calls+twice.Usage.CacheHits; b <= a {
		t.Errorf("calls asked (paid + cache hits): once %d, twice %d; want more with duplicated deliveries", a, b)
	}
	if twice.Usage.Calls < once.Usage.Calls {
		t.Errorf("paid calls: once %d, twice %d; duplicates never make a run pay less", once.Usage.Calls, twice.Usage.Calls)
	}
}

func TestLocalBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no data", []string{"local"}},
		{"missing file", []string{"local", "--data", "/nonexistent.csv"}},
		// Fault flags are checked before anything starts.
		{"fault rate above 1", []string{"local", "--data", "../../samples/sentiment.csv", "--fault-duplicate-rate", "1.5"}},
		{"batch fault rate 1", []string{"local", "--data", "../../samples/sentiment.csv", "--fault-batch-rate", "1"}},
		{"negative aggregate fault rate", []string{"local", "--data", "../../samples/sentiment.csv", "--fault-aggregate-rate", "-0.1"}},
		{"restart too often", []string{"local", "--data", "../../samples/sentiment.csv", "--fault-restart-every", "10ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := newRootCmd()
			cmd.SetArgs(tt.args)
			cmd.SetOut(new(discard))
			cmd.SetErr(new(discard))
			if err := cmd.Execute(); err == nil {
				t.Errorf("promptml %v succeeded, want an error", tt.args)
			}
		})
	}
}

type discard struct{}

func (*discard) Write(p []byte) (int, error) { return len(p), nil }
