package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"

	"github.com/promptml/promptml/functions/api"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/pipeline/pipelinetest"
	"github.com/promptml/promptml/shared/store"
)

// runCLI executes the CLI with args and returns its output and the exit
// code main would use.
func runCLI(t *testing.T, args ...string) (string, int, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	code := 0
	if err != nil {
		code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return out.String(), code, err
}

// TestHelpExamples checks every visible command explains itself with an
// example, and the commands that talk to the API document exit codes.
func TestHelpExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			t.Run(sub.CommandPath(), func(t *testing.T) {
				out, code, err := runCLI(t, append(strings.Fields(strings.TrimPrefix(sub.CommandPath(), "promptml ")), "--help")...)
				if err != nil || code != 0 {
					t.Fatalf("--help: %v (exit %d)", err, code)
				}
				if !strings.Contains(out, "Examples:") || !strings.Contains(out, "promptml ") {
					t.Errorf("%s --help has no example:\n%s", sub.CommandPath(), out)
				}
				switch sub.Name() {
				case "run", "runs", "status", "watch", "cancel", "export", "diff", "history":
					if !strings.Contains(out, "Exit codes:") || !strings.Contains(out, "--api") {
						t.Errorf("%s --help does not document exit codes and --api:\n%s", sub.CommandPath(), out)
					}
				}
			})
			walk(sub)
		}
	}
	walk(newRootCmd())
}

// fakeAPI answers like the API: 404 JSON for unknown runs, and a dry-run
// estimate for POST /runs?dry_run=true; it records the last request body.
func fakeAPI(t *testing.T) (*httptest.Server, *[]byte, *http.Request) {
	t.Helper()
	var body []byte
	last := &http.Request{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		*last = *r
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/runs" && r.URL.Query().Get("dry_run") == "true":
			_, _ = io.WriteString(w, `{"dry_run": true, "estimate": {"calls": 1234, "input_tokens": 56000, "output_tokens": 7800, "cost_usd": 0.0421, "phases": [{"name":"baseline train","split":"train","epoch":0,"calls":120,"input_tokens":3000,"output_tokens":900,"cost_usd":0.0012}]}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error": "not found: store.GetRun abcdefghijklmnopqrstuvwxyz: not found"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &body, last
}

func TestCLIErrors(t *testing.T) {
	t.Setenv(apiEnv, "")
	srv, _, _ := fakeAPI(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badYAML, []byte("epochs: [1,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.csv")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		// says are phrases the message must hold: what went wrong and what
		// to do next.
		says []string
	}{
		{"unknown run", []string{"status", "abcdefghijklmnopqrstuvwxyz", "--api", srv.URL}, exitNotFound,
			[]string{"run abcdefghijklmnopqrstuvwxyz not found", "promptml runs"}},
		{"unknown run watch", []string{"watch", "abcdefghijklmnopqrstuvwxyz", "--api", srv.URL}, exitNotFound,
			[]string{"not found", "promptml runs"}},
		{"unknown run history", []string{"history", "abcdefghijklmnopqrstuvwxyz", "--api", srv.URL}, exitNotFound, []string{"promptml runs"}},
		{"unreachable", []string{"runs", "--api", closed.URL}, exitUnreachable,
			[]string{"cannot reach the API at " + closed.URL, "promptml local --serve --port " + closed.URL[strings.LastIndex(closed.URL, ":")+1:], "API at " + closed.URL, "PROMPTML_API"}},
		{"unreachable from env", []string{"cancel", "abcdefghijklmnopqrstuvwxyz"}, exitUnreachable, []string{"cannot reach", "--api"}},
		{"missing file", []string{"run", filepath.Join(dir, "nope.csv"), "--api", srv.URL}, exitUsage,
			[]string{"nope.csv", "no such file", "Pass a CSV file with user_input,ground_truth_output columns"}},
		{"empty file", []string{"run", empty, "--api", srv.URL}, exitUsage, []string{"is empty", "header row"}},
		{"directory", []string{"run", dir, "--api", srv.URL}, exitUsage, []string{"is a directory"}},
		{"bad config", []string{"run", "../../samples/sentiment.csv", "--config", badYAML, "--api", srv.URL}, exitUsage,
			[]string{"not valid YAML", "docs/config.md"}},
		{"missing config", []string{"run", "../../samples/sentiment.csv", "--config", filepath.Join(dir, "none.yaml")}, exitUsage,
			[]string{"--config", "samples/*.yaml"}},
		{"bad set", []string{"run", "../../samples/sentiment.csv", "--set", "epochs"}, exitUsage, []string{"PATH=VALUE", "--set epochs=3"}},
		{"bad api url", []string{"runs", "--api", "localhost:8080"}, exitUsage, []string{"not an http(s) URL"}},
		{"missing argument", []string{"diff", "abcdefghijklmnopqrstuvwxyz", "p000000000000"}, exitUsage, []string{"accepts 3 arg(s)", "Usage: promptml diff RUN A B"}},
		{"unknown flag", []string{"runs", "--bogus"}, exitUsage, []string{"unknown flag: --bogus", "--help"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "unreachable from env" {
				t.Setenv(apiEnv, closed.URL)
			}
			_, code, err := runCLI(t, tc.args...)
			if err == nil {
				t.Fatalf("promptml %v succeeded, want exit %d", tc.args, tc.code)
			}
			if code != tc.code {
				t.Errorf("exit code %d, want %d (%v)", code, tc.code, err)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not say %q:\n%v", s, err)
				}
			}
		})
	}
}

func TestRunDryRun(t *testing.T) {
	srv, body, last := fakeAPI(t)
	cfg := filepath.Join(t.TempDir(), "run.yaml")
	if err := os.WriteFile(cfg, []byte("epochs: 5\ngate:\n  min_delta: 0.01\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code, err := runCLI(t, "run", "gs://datasets/support.csv", "--dry-run", "--config", cfg,
		"--set", "gate.min_delta=0.02", "--set", "prompt.system=Be brief.", "--epochs", "3", "--api", srv.URL)
	if err != nil || code != 0 {
		t.Fatalf("dry run: %v (exit %d)\n%s", err, code, out)
	}
	if last.URL.RawQuery != "dry_run=true" || last.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s?%s (%s), want JSON to POST /runs?dry_run=true", last.URL.Path, last.URL.RawQuery, last.Header.Get("Content-Type"))
	}
	var got map[string]any
	if err := json.Unmarshal(*body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"dataset": "gs://datasets/support.csv", "config": map[string]any{
		"epochs": 3.0, "gate": map[string]any{"min_delta": 0.02}, "prompt": map[string]any{"system": "Be brief."}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("request body (-want +got):\n%s", d)
	}
	for _, s := range []string{"nothing was started", "LLM calls      1234", "input tokens   56000", "output tokens  7800", "$0.0421", "baseline train", "3000", "$0.0012"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

// TestRunDryRunLocalFile: --dry-run of a local CSV sends the form with
// ?dry_run=true and prints the estimate.
func TestRunDryRunLocalFile(t *testing.T) {
	srv, _, last := fakeAPI(t)
	out, code, err := runCLI(t, "run", "../../samples/sentiment.csv", "--dry-run", "--epochs", "2", "--api", srv.URL)
	if err != nil || code != 0 {
		t.Fatalf("dry run: %v (exit %d)\n%s", err, code, out)
	}
	if last.URL.RawQuery != "dry_run=true" || !strings.HasPrefix(last.Header.Get("Content-Type"), "multipart/form-data") {
		t.Errorf("request %s?%s (%s), want a form to POST /runs?dry_run=true", last.URL.Path, last.URL.RawQuery, last.Header.Get("Content-Type"))
	}
	if !strings.Contains(out, "nothing was started") || !strings.Contains(out, "LLM calls      1234") {
		t.Errorf("output lacks the estimate:\n%s", out)
	}
}

func TestSetPath(t *testing.T) {
	m := map[string]any{"epochs": 5}
	if err := setPath(m, []string{"epochs", "x"}, 1); err == nil {
		t.Error("setting under a scalar succeeded")
	}
	if err := setPath(m, []string{"a", "b", "c"}, true); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]any{"epochs": 5, "a": map[string]any{"b": map[string]any{"c": true}}}, m); d != "" {
		t.Error(d)
	}
}

func TestIsLoopback(t *testing.T) {
	for u, want := range map[string]bool{
		"http://127.0.0.1:8080": true, "http://localhost:1": true, "http://[::1]:80": true,
		"https://us-central1-p.cloudfunctions.net/API": false, "https://api-abc-uc.a.run.app": false,
	} {
		if got := isLoopback(u); got != want {
			t.Errorf("isLoopback(%s) = %v, want %v", u, got, want)
		}
	}
}

// TestCLIAgainstAPI drives the commands against the real API handler over
// an in-process pipeline on the Firestore emulator: run uploads a local
// CSV with its config and overrides, the test delivers the messages, then
// runs, status, watch, history, diff, export and cancel read the result.
func TestCLIAgainstAPI(t *testing.T) {
	csv, err := os.ReadFile("../../samples/translation-fr.csv")
	if err != nil {
		t.Fatal(err)
	}
	e := pipelinetest.New(t, string(csv))
	srv := httptest.NewServer(api.NewHandler(e.P))
	t.Cleanup(srv.Close)
	t.Setenv(apiEnv, srv.URL)

	out, code, err := runCLI(t, "run", "../../samples/translation-fr.csv", "--config", "../../samples/translation-fr.yaml", "--set", "epochs=3")
	if err != nil || code != 0 {
		t.Fatalf("run: %v (exit %d)\n%s", err, code, out)
	}
	id := strings.TrimSuffix(strings.Fields(out)[1], "")
	if !strings.HasPrefix(out, "Run "+id+" started") || !strings.Contains(out, "promptml watch "+id) || !strings.Contains(out, "/ui/runs/"+id) {
		t.Errorf("run output:\n%s", out)
	}
	e.Drain(t, false)
	run, err := e.Store.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != store.StatusSucceeded || run.Config["epochs"] == nil || run.Epoch > 3 {
		t.Fatalf("run %s: %s, epoch %d, config epochs %v; want succeeded within the 3 epochs --set asked for", id, run.Status, run.Epoch, run.Config["epochs"])
	}
	if !strings.HasPrefix(run.Source.Object, pipeline.UploadPrefix) || !strings.HasSuffix(run.Source.Object, "/translation-fr.csv") {
		t.Errorf("uploaded object %q", run.Source.Object)
	}

	t.Run("runs", func(t *testing.T) {
		out, _, err := runCLI(t, "runs", "--status", "succeeded")
		if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "translation-fr.csv") {
			t.Errorf("runs: %v\n%s", err, out)
		}
	})
	t.Run("status", func(t *testing.T) {
		out, _, err := runCLI(t, "status", id)
		if err != nil || !strings.Contains(out, "succeeded (stage done") || !strings.Contains(out, fmt.Sprintf("best %.3f", run.BestVal)) {
			t.Errorf("status: %v\n%s", err, out)
		}
	})
	t.Run("watch", func(t *testing.T) {
		out, code, err := runCLI(t, "watch", id)
		if err != nil || code != 0 {
			t.Fatalf("watch: %v (exit %d)", err, code)
		}
		for _, s := range []string{"Baseline: the initial prompt", "epoch  incumbent train", "accepted", "Run " + id + " succeeded", "Final output prompt"} {
			if !strings.Contains(out, s) {
				t.Errorf("watch output lacks %q:\n%s", s, out)
			}
		}
	})
	t.Run("history", func(t *testing.T) {
		out, _, err := runCLI(t, "history", id)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if !strings.Contains(lines[0], run.InitialPromptID) || !strings.Contains(lines[0], "initial") {
			t.Errorf("history does not start with the initial version:\n%s", out)
		}
		if !strings.Contains(out, run.IncumbentID+" *") || !strings.Contains(out, "└─ ") || !strings.Contains(out, "gate: accepted, delta +") {
			t.Errorf("history lacks the marked best version, the tree or the gate:\n%s", out)
		}
	})
	t.Run("diff", func(t *testing.T) {
		out, _, err := runCLI(t, "diff", id, "initial", "best")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"--- " + run.InitialPromptID, "+++ " + run.IncumbentID, "-Answer the request.", "+Answer the request. "} {
			if !strings.Contains(out, s) {
				t.Errorf("diff lacks %q:\n%s", s, out)
			}
		}
		_, code, err := runCLI(t, "diff", id, "initial", "p000000000000")
		if code != exitNotFound || err == nil || !strings.Contains(err.Error(), "promptml history "+id) {
			t.Errorf("diff with an unknown version: exit %d, %v", code, err)
		}
	})
	t.Run("export", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "out")
		if _, _, err := runCLI(t, "export", id, "--out", dir); err != nil {
			t.Fatal(err)
		}
		out, err := os.ReadFile(filepath.Join(dir, "output.txt"))
		// The best prompt tells the model not to quote (the simulated
		// primary quotes most answers); how it says so is the optimizer's
		// own wording, no longer a fixed sentence (issue 19).
		if err != nil || !strings.Contains(string(out), "quot") {
			t.Errorf("output.txt = %q, %v", out, err)
		}
		var ex pipeline.ExportedPrompt
		b, _ := os.ReadFile(filepath.Join(dir, "prompt.json"))
		if err := json.Unmarshal(b, &ex); err != nil || ex.PromptID != run.IncumbentID || ex.RunID != id {
			t.Errorf("prompt.json = %s (%v)", b, err)
		}
		if _, _, err := runCLI(t, "export", id, "--version", run.InitialPromptID, "--out", dir); err != nil {
			t.Fatal(err)
		}
		if sys, _ := os.ReadFile(filepath.Join(dir, "output.txt")); string(sys) != "Answer the request." {
			t.Errorf("--version %s exported output %q", run.InitialPromptID, sys)
		}
	})
	t.Run("bad CSV fails at intake", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.csv")
		if err := os.WriteFile(bad, []byte("question,answer\nhi,salut\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, code, err := runCLI(t, "run", bad)
		if code != exitRunEnded || err == nil || !strings.Contains(err.Error(), "failed at intake") || !strings.Contains(err.Error(), "Fix the CSV") {
			t.Errorf("bad CSV: exit %d, %v", code, err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		out, code, err := runCLI(t, "run", "../../samples/translation-fr.csv")
		if err != nil || code != 0 {
			t.Fatalf("run: %v\n%s", err, out)
		}
		id2 := strings.Fields(out)[1]
		if out, _, err = runCLI(t, "cancel", id2); err != nil || !strings.Contains(out, "Run "+id2+" cancelled.") {
			t.Errorf("cancel: %v\n%s", err, out)
		}
		if out, _, err = runCLI(t, "cancel", id2); err != nil || !strings.Contains(out, "already ended (cancelled)") {
			t.Errorf("second cancel: %v\n%s", err, out)
		}
		e.Drain(t, false)
		_, code, err = runCLI(t, "watch", id2)
		if code != exitRunEnded || err == nil || !strings.Contains(err.Error(), "ended cancelled") {
			t.Errorf("watch of a cancelled run: exit %d, %v", code, err)
		}
	})
}

// TestWatchStreams follows a run whose state moves on between polls (a
// fake API): the phase's progress bar, the epoch row once decided, the
// events, then the summary.
func TestWatchStreams(t *testing.T) {
	const id = "abcdefghijklmnopqrstuvwxyz"
	polls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		reply := func(v any) { _ = json.NewEncoder(w).Encode(v) }
		switch r.URL.Path {
		case "/runs/" + id:
			polls++
			st := store.StatusRunning
			if polls >= 3 {
				st = store.StatusSucceeded
			}
			reply(store.Run{ID: id, Status: st, InitialPromptID: "p000000000000", IncumbentID: "p111111111111",
				Usage: store.Usage{Calls: 40 * polls, CostUSD: 0.001 * float64(polls)}})
		case "/runs/" + id + "/phases":
			// The phase's usage is its done batches' (polls of them), not
			// the run's so far.
			reply(map[string]any{"phases": []store.Phase{{ID: "train-p000000000000", State: store.PhasePending, TotalBatches: 4, DoneBatches: polls,
				Usage: store.Usage{Calls: 10 * polls, CacheHits: 2 * (polls - 1), CostUSD: 0.0003 * float64(polls)}}}})
		case "/runs/" + id + "/events":
			reply(map[string]any{"events": []store.Event{{ID: fmt.Sprint(polls), Message: fmt.Sprintf("event %d", polls)}}})
		case "/runs/" + id + "/epochs":
			var es []store.Epoch
			if polls >= 2 {
				es = append(es, store.Epoch{N: 1, IncumbentVal: 0.1, BestCandidate: "p111111111111", BestVal: 0.6, Delta: 0.5, Decision: store.DecisionAccepted,
					Candidates: []store.EpochCandidate{{PromptID: "p111111111111", Val: 0.6, Status: store.CandidateAccepted}}})
			}
			reply(map[string]any{"epochs": es})
		case "/runs/" + id + "/prompts":
			reply(map[string]any{"prompts": []store.Prompt{{ID: "p000000000000"}, {ID: "p111111111111", Output: "Be exact."}}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	var out bytes.Buffer
	sum, err := follow(t.Context(), &out, newAPIClient(srv.URL), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Status != store.StatusSucceeded || sum.Final.PromptID != "p111111111111" {
		t.Errorf("summary = %+v", sum)
	}
	for _, s := range []string{
		"train-p000000000000 █████░░░░░░░░░░░░░░░ 1/4 batches · 10 calls, $0.0003\n",
		"train-p000000000000 ██████████░░░░░░░░░░ 2/4 batches · 20 calls (+2 cached), $0.0006\n",
		"epoch  incumbent train  incumbent val  best candidate val  delta    p-value  decision",
		"1      0.000            0.100          0.600               +0.500   -        accepted",
		"event 1", "event 2", "event 3",
	} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("watch output lacks %q:\n%s", s, out.String())
		}
	}
}

// TestUnreachableHint checks the hint names the API URL the CLI called
// (issue 17 item 8), not always the default local cloud.
func TestUnreachableHint(t *testing.T) {
	tests := []struct {
		name    string
		base    string
		says    []string
		notSays []string
	}{
		{"default local cloud", defaultAPI, []string{"`promptml local --serve`", "API at " + defaultAPI}, []string{"--port"}},
		{"local cloud on another port", "http://127.0.0.1:9090", []string{"`promptml local --serve --port 9090`", "API at http://127.0.0.1:9090"}, []string{"8080"}},
		{"localhost", "http://localhost:7000", []string{"--port 7000", "API at http://localhost:7000"}, []string{"8080"}},
		{"deployment", "https://europe-west1-p.cloudfunctions.net/api", []string{"https://europe-west1-p.cloudfunctions.net/api is your deployment's API URL", "terraform output api_url"}, []string{"--port"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := unreachableHint(tc.base)
			for _, s := range tc.says {
				if !strings.Contains(got, s) {
					t.Errorf("hint does not say %q:\n%s", s, got)
				}
			}
			for _, s := range tc.notSays {
				if strings.Contains(got, s) {
					t.Errorf("hint says %q:\n%s", s, got)
				}
			}
		})
	}
}
