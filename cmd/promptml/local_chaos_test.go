package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/promptml/promptml/functions/api/wire"
	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/localcloud"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/store"
)

// servedRun is a `promptml local --serve` run whose API is still up.
type servedRun struct {
	sum    Summary
	api    *apiClient
	output func() string
	wall   time.Duration
}

// serveLocalRun runs `promptml local --serve` until its summary is written,
// keeps the API up for the test to read the run, and stops the local cloud
// (SIGINT to its process) when the test ends.
func serveLocalRun(t *testing.T, bin string, args ...string) servedRun {
	t.Helper()
	js := filepath.Join(t.TempDir(), "summary.json")
	args = append([]string{"local", "--serve", "--port", "0", "--project", localcloud.ProjectID(t), "--json", js}, args...)
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out strings.Builder
	cmd.Stderr = &lockedWriter{mu: &mu, w: &out}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	urls := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`API at (http://127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
		exited <- cmd.Wait()
	}()
	output := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	var url string
	deadline := time.After(3 * time.Minute)
	for {
		if url == "" {
			select {
			case url = <-urls:
			default:
			}
		}
		if b, err := os.ReadFile(js); err == nil && len(b) > 0 && url != "" {
			var s Summary
			if err := json.Unmarshal(b, &s); err == nil {
				t.Logf("promptml %v (%s):\n%s", args, time.Since(start).Round(time.Second), output())
				return servedRun{sum: s, api: newAPIClient(url), output: output, wall: time.Since(start)}
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("promptml %v exited before its summary: %v\n%s", args, err, output())
		case <-deadline:
			t.Fatalf("promptml %v: no summary after 3 minutes\n%s", args, output())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// runRecord is what must not depend on faults: every prompt with its
// scores, every epoch's decision and every phase's metrics.
type runRecord struct {
	Prompts []*wire.Prompt
	Epochs  []*wire.Epoch
	Phases  []phaseRecord
}

type phaseRecord struct {
	ID, Split, PromptID, State string
	TotalBatches               int
	Metrics                    *eval.Summary
	Corpus                     *float64
}

func readRecord(ctx context.Context, t *testing.T, r servedRun) runRecord {
	t.Helper()
	id := r.sum.RunID
	var rec runRecord
	var err error
	if rec.Prompts, err = r.api.prompts(ctx, id); err != nil {
		t.Fatal(err)
	}
	sort.Slice(rec.Prompts, func(i, j int) bool { return rec.Prompts[i].ID < rec.Prompts[j].ID })
	if rec.Epochs, err = r.api.epochs(ctx, id); err != nil {
		t.Fatal(err)
	}
	phases, err := r.api.phases(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range phases {
		rec.Phases = append(rec.Phases, phaseRecord{ID: ph.ID, Split: ph.Split, PromptID: ph.PromptID, State: ph.State,
			TotalBatches: ph.TotalBatches, Metrics: ph.Metrics, Corpus: ph.Corpus})
	}
	sort.Slice(rec.Phases, func(i, j int) bool { return rec.Phases[i].ID < rec.Phases[j].ID })
	return rec
}

// checkScoredOnce reads every phase's per-example results (the results
// objects the batch documents name) and requires each example of the
// split exactly once.
func checkScoredOnce(ctx context.Context, t *testing.T, r servedRun, rec runRecord) {
	t.Helper()
	for _, ph := range rec.Phases {
		var page struct {
			Examples []pipeline.Result `json:"examples"`
			Next     *int              `json:"next_batch_from"`
		}
		path := fmt.Sprintf("/runs/%s/examples?phase=%s&limit=5000", r.sum.RunID, ph.ID)
		if err := r.api.do(ctx, "GET", path, nil, &page); err != nil {
			t.Fatal(err)
		}
		if page.Next != nil {
			t.Fatalf("phase %s: more than one page of examples", ph.ID)
		}
		want := r.sum.Dataset.Counts[ph.Split]
		ids := map[string]int{}
		for _, ex := range page.Examples {
			ids[ex.ID]++
		}
		var dups []string
		for id, n := range ids {
			if n > 1 {
				dups = append(dups, fmt.Sprintf("%s×%d", id, n))
			}
		}
		if len(page.Examples) != want || len(ids) != want || len(dups) > 0 {
			t.Errorf("phase %s: %d result rows, %d distinct examples, duplicates %v; want %d, each once",
				ph.ID, len(page.Examples), len(ids), dups, want)
		}
		if m := ph.Metrics; m == nil || m.N+m.Errors != want {
			t.Errorf("phase %s: metrics %+v, want %d examples counted", ph.ID, m, want)
		}
	}
}

// TestLocalCloudChaos runs a sample on the real local cloud twice: without
// faults, then with every fault at once — duplicated deliveries, RunBatch
// and Aggregate invocations failing after part of their effects, transient
// LLM errors, and the function processes killed with SIGKILL and restarted
// during the run. The faulty run must succeed, score every example of every
// phase exactly once, and end with the same prompts, scores and epoch
// decisions.
func TestLocalCloudChaos(t *testing.T) {
	localcloud.RequireEmulators(t)
	bin := buildBinary(t)
	ctx := t.Context()
	args := []string{"--data", "../../samples/sentiment.csv", "--config", "testdata/chaos.yaml", "--lease", "3s"}
	clean := serveLocalRun(t, bin, args...)
	faulty := serveLocalRun(t, bin, append(args, "--sim-error-rate", "0.2", "--fault-duplicate-rate", "0.3",
		"--fault-batch-rate", "0.2", "--fault-aggregate-rate", "0.2", "--fault-restart-every", "3s", "--fault-seed", "11",
		"--verbose")...) // the functions' logs, to see the faults injected inside them
	if clean.sum.Status != "succeeded" {
		t.Fatalf("clean run: status %s %+v", clean.sum.Status, clean.sum.Error)
	}
	if faulty.sum.Status != "succeeded" {
		t.Fatalf("run with faults: status %s %+v", faulty.sum.Status, faulty.sum.Error)
	}
	m := regexp.MustCompile(`Faults injected by the local cloud: (.*)`).FindStringSubmatch(faulty.output())
	if m == nil {
		t.Fatal("no fault report in the output")
	}
	t.Logf("clean run %s, run with faults %s; %s", clean.wall.Round(time.Second), faulty.wall.Round(time.Second), m[1])
	if strings.Contains(m[1], " 0 failed") || strings.Contains(m[1], " 0 duplicated") || strings.Contains(m[1], " 0 function restarts") {
		t.Errorf("a fault never fired: %s", m[1])
	}
	// The proxy's failed deliveries include the pushes a killed process
	// refused: require the faults injected inside RunBatch and Aggregate
	// themselves, from their logs.
	for _, point := range []string{`"point":"batch/`, `"point":"aggregate/`} {
		if n := strings.Count(faulty.output(), point); n == 0 {
			t.Errorf("no fault injected at %s… in the functions' logs", point)
		} else {
			t.Logf("faults injected at %s…: %d", point, n)
		}
	}

	ignore := cmp.Options{cmpopts.IgnoreFields(Summary{}, "RunID", "WallSeconds", "Usage"), cmpopts.IgnoreFields(store.Dataset{}, "Generation")}
	if d := cmp.Diff(clean.sum, faulty.sum, ignore); d != "" {
		t.Errorf("faults changed the outcome (-clean +faulty):\n%s", d)
	}
	a, b := readRecord(ctx, t, clean), readRecord(ctx, t, faulty)
	ignoreRec := cmp.Options{cmpopts.IgnoreFields(wire.Prompt{}, "CreatedAt"),
		cmpopts.IgnoreFields(wire.Epoch{}, "Usage", "StartedAt", "FinishedAt"), cmpopts.EquateEmpty()}
	if d := cmp.Diff(a, b, ignoreRec); d != "" {
		t.Errorf("faults changed prompts, epochs or scores (-clean +faulty):\n%s", d)
	}
	checkScoredOnce(ctx, t, clean, a)
	checkScoredOnce(ctx, t, faulty, b)
}
