package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/promptml/promptml/shared/localcloud"
)

// The prompt both tools evaluate: the prompt `make run` trains, so that the
// simulator's exact-match score is high and the two tools' scores can be
// compared (they must agree: same model, same prompts, same metric).
const (
	compareSystem = "You are a helpful assistant."
	compareOutput = "Answer the request. Start directly with the answer; do not add a preamble. Do not explain the answer or add any text after it. Preserve the exact capitalization the answer calls for. Do not wrap the answer in quotation marks."
)

// compareRow is one example of the comparison dataset.
type compareRow struct{ input, truth string }

// compareRows generates n distinct translation-like examples.
func compareRows(n int) []compareRow {
	subjects := []string{"the red car", "my old friend", "a small house", "the green garden", "our new teacher", "the long river", "a quiet street", "the warm bread"}
	verbs := []string{"is near the station", "was here yesterday", "looks beautiful today", "will arrive tomorrow"}
	rows := make([]compareRow, n)
	for i := range rows {
		s, v := subjects[i%len(subjects)], verbs[(i/len(subjects))%len(verbs)]
		rows[i] = compareRow{
			input: fmt.Sprintf("Translate to French (ticket %04d): %s %s.", i, s, v),
			truth: fmt.Sprintf("Ticket %04d : %s %s.", i, s, v),
		}
	}
	return rows
}

// writeCompareData writes the dataset CSV, promptml's run config and
// promptfoo's config and tests for the sim-server at baseURL.
func writeCompareData(dir string, rows []compareRow, baseURL string, concurrency int) (csvPath, ymlPath, pfConfig string, err error) {
	csvPath = filepath.Join(dir, "compare.csv")
	f, err := os.Create(csvPath)
	if err != nil {
		return "", "", "", err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"user_input", "ground_truth_output"})
	tests := make([]map[string]any, len(rows))
	for i, r := range rows {
		_ = w.Write([]string{r.input, r.truth})
		tests[i] = map[string]any{"vars": map[string]string{"user_input": r.input},
			"assert": []map[string]string{{"type": "equals", "value": r.truth}}}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return "", "", "", err
	}
	if err := f.Close(); err != nil {
		return "", "", "", err
	}

	// promptml: score the prompt once over every row (epochs 0: baseline on
	// train and val, then test), the primary model being sim-server through
	// the openai provider, at most `concurrency` calls in flight (one
	// RunBatch instance on the local cloud, so the per-instance limiter is
	// global), no response cache.
	cfg := map[string]any{
		"prompt":     map[string]any{"system": compareSystem, "output": compareOutput},
		"epochs":     0,
		"batch_size": 50,
		"metrics":    []map[string]any{{"name": "exact_match"}},
		"primary": map[string]any{"provider": "openai", "name": "sim-primary", "base_url": baseURL,
			"temperature": 0, "max_concurrency": concurrency},
		"limits": map[string]any{"concurrency": concurrency},
		"cache":  "off",
	}
	ymlPath = filepath.Join(dir, "compare.yaml")
	if err := writeYAML(ymlPath, cfg); err != nil {
		return "", "", "", err
	}

	// promptfoo: the same prompt as a chat (system + user), the same model,
	// exact match (equals), the same concurrency, no cache.
	msgs, _ := json.Marshal([]map[string]string{
		{"role": "system", "content": compareSystem},
		{"role": "user", "content": "{{user_input}}\n\n" + compareOutput},
	})
	testsPath := filepath.Join(dir, "promptfoo-tests.json")
	tb, _ := json.Marshal(tests)
	if err := os.WriteFile(testsPath, tb, 0o644); err != nil {
		return "", "", "", err
	}
	pf := map[string]any{
		"description": "promptml benchmark: one prompt, exact match, sim-server",
		"prompts":     []map[string]any{{"id": "bench", "raw": string(msgs)}},
		"providers": []map[string]any{{"id": "openai:chat:sim-primary",
			"config": map[string]any{"apiBaseUrl": baseURL, "apiKey": "sim", "temperature": 0}}},
		"tests":           "file://" + testsPath,
		"evaluateOptions": map[string]any{"maxConcurrency": concurrency, "cache": false, "showProgressBar": false},
		"sharing":         false,
	}
	pfConfig = filepath.Join(dir, "promptfooconfig.yaml")
	if err := writeYAML(pfConfig, pf); err != nil {
		return "", "", "", err
	}
	return csvPath, ymlPath, pfConfig, nil
}

func writeYAML(path string, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// toolRun is one measured run of one tool.
type toolRun struct {
	Wall      time.Duration // the command, start to exit
	Work      time.Duration // the evaluation itself (see compareResult)
	PeakMiB   float64       // summed RSS of the process tree
	Procs     int
	Score     float64
	Calls     int
	Tokens    int
	ExtraNote string
	// PeakInFlight is the most calls sim-server answered at once during
	// the run (GET /sim/stats), which shows whether the tool really used
	// its concurrency.
	PeakInFlight int
	// ServerRequests is the requests sim-server counted.
	ServerRequests int
	// CPU is the user + system CPU time of the command and the children
	// it waited for.
	CPU time.Duration
}

// compareResult is benchmark (2).
type compareResult struct {
	Rows, Concurrency int
	Latency           time.Duration
	IdealSeconds      float64
	Promptml          []toolRun
	Promptfoo         []toolRun
	EmulatorsMiB      float64
	PromptfooVersion  string
	NodeVersion       string
	StartupPromptfoo  time.Duration // `promptfoo --version`
	PromptmlCommand   string
	PromptfooCommand  string
	SimCommand        string
}

// runCompare runs benchmark (2): sim-server at latency, then for each run
// promptml local (evaluation only) and promptfoo eval on the same rows.
func runCompare(ctx context.Context, h *harness) (*compareResult, error) {
	res := &compareResult{Rows: h.compareRows, Concurrency: h.concurrency, Latency: h.latency}
	waves := (h.compareRows + h.concurrency - 1) / h.concurrency
	res.IdealSeconds = float64(waves) * h.latency.Seconds()
	dir := filepath.Join(h.work, "compare")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	rows := compareRows(h.compareRows)

	// The answer key of sim-server is the dataset itself.
	port, err := localcloud.FreePort()
	if err != nil {
		return nil, err
	}
	baseURL := fmt.Sprintf("http://127.0.0.1:%d/v1", port)
	csvPath, ymlPath, pfConfig, err := writeCompareData(dir, rows, baseURL, h.concurrency)
	if err != nil {
		return nil, err
	}
	simArgs := []string{"sim-server", "--data", csvPath, "--latency", h.latency.String(), "--port", strconv.Itoa(port)}
	res.SimCommand = "bin/promptml " + relArgs(simArgs)
	sim, err := startProc(ctx, "", nil, nil, nil, h.bin, simArgs...)
	if err != nil {
		return nil, err
	}
	defer sim.kill()
	if _, err := sim.waitLine(ctx, "listening on", 30*time.Second); err != nil {
		return nil, err
	}
	simStatsReset(ctx, baseURL)

	pfBin, _ := filepath.Abs(filepath.Join("bench", "promptfoo", "node_modules", ".bin", "promptfoo"))
	pfEnv := []string{"PROMPTFOO_DISABLE_TELEMETRY=1", "PROMPTFOO_DISABLE_UPDATE=1", "PROMPTFOO_CACHE_ENABLED=false",
		"PROMPTFOO_DISABLE_SHARING=1", "PROMPTFOO_DISABLE_REMOTE_GENERATION=true", "PROMPTFOO_SELF_HOSTED=1",
		"PROMPTFOO_CONFIG_DIR=" + filepath.Join(dir, "promptfoo-home"), "OPENAI_API_KEY=sim",
		"PROMPTFOO_DISABLE_WAL_MODE=1", "NO_COLOR=1",
		// Even with telemetry disabled, promptfoo posts one "telemetry
		// disabled" event to r.promptfoo.app (found with strace: a DNS
		// query to the resolver). A dead proxy on loopback takes it (strace
		// in a loopback-only namespace: connections to 127.0.0.1 only,
		// docs/benchmarks.md); sim-server on 127.0.0.1 is exempt.
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=127.0.0.1,localhost"}
	if _, err := os.Stat(pfBin); err != nil {
		return nil, fmt.Errorf("promptfoo is not installed (npm ci --prefix bench/promptfoo): %w", err)
	}
	if v, err := commandOutput(ctx, pfEnv, pfBin, "--version"); err == nil {
		res.PromptfooVersion = versionOf(v)
	}
	if v, err := commandOutput(ctx, nil, "node", "--version"); err == nil {
		res.NodeVersion = versionOf(v)
	}
	t0 := time.Now()
	_, _ = commandOutput(ctx, pfEnv, pfBin, "--version")
	res.StartupPromptfoo = time.Since(t0)

	pfOut := filepath.Join(dir, "promptfoo-results.json")
	pfArgs := []string{"eval", "-c", pfConfig, "--no-cache", "--no-write", "--no-progress-bar", "--no-table", "-j", strconv.Itoa(h.concurrency), "-o", pfOut}
	// The command as run: every variable of pfEnv but the scratch config
	// directory, which is a temporary path.
	var shown []string
	for _, kv := range pfEnv {
		if !strings.HasPrefix(kv, "PROMPTFOO_CONFIG_DIR=") {
			shown = append(shown, kv)
		}
	}
	res.PromptfooCommand = strings.Join(shown, " ") + " bench/promptfoo/node_modules/.bin/promptfoo " + relArgs(pfArgs)
	summary := filepath.Join(dir, "promptml-summary.json")
	pmArgs := []string{"local", "--data", csvPath, "--config", ymlPath, "--json", summary}
	res.PromptmlCommand = "bin/promptml " + relArgs(pmArgs) + "   (emulators already running: FIRESTORE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST)"

	for i := range h.runs {
		h.logf("compare: run %d/%d: promptml local (epochs 0, %d rows)", i+1, h.runs, h.compareRows)
		pm, err := runPromptmlEval(ctx, h, pmArgs, summary)
		if err != nil {
			return nil, fmt.Errorf("promptml: %w", err)
		}
		pm.PeakInFlight, pm.ServerRequests = simStatsReset(ctx, baseURL)
		res.Promptml = append(res.Promptml, pm)
		h.logf("compare:   promptml wall %.2fs, upload→result %.2fs, peak %.0f MiB, score %.3f", pm.Wall.Seconds(), pm.Work.Seconds(), pm.PeakMiB, pm.Score)

		h.logf("compare: run %d/%d: promptfoo eval", i+1, h.runs)
		pf, err := runPromptfooEval(ctx, h, pfEnv, pfBin, pfArgs, pfOut, dir)
		if err != nil {
			return nil, fmt.Errorf("promptfoo: %w", err)
		}
		pf.PeakInFlight, pf.ServerRequests = simStatsReset(ctx, baseURL)
		res.Promptfoo = append(res.Promptfoo, pf)
		h.logf("compare:   promptfoo wall %.2fs, eval %.2fs, peak %.0f MiB, score %.3f", pf.Wall.Seconds(), pf.Work.Seconds(), pf.PeakMiB, pf.Score)
	}
	res.EmulatorsMiB = emulatorsRSS()
	return res, nil
}

// runPromptmlEval runs `promptml local` once and reads its summary. Work is
// from the local cloud being up (the upload) to the run's result printed.
func runPromptmlEval(ctx context.Context, h *harness, args []string, summary string) (toolRun, error) {
	_ = os.Remove(summary)
	p, err := startProc(ctx, "", nil, isEmulator, nil, h.bin, args...)
	if err != nil {
		return toolRun{}, err
	}
	up, err := p.waitLine(ctx, "Local cloud up", 2*time.Minute)
	if err != nil {
		p.kill()
		return toolRun{}, err
	}
	done, err := p.waitLine(ctx, "Val: initial", 10*time.Minute)
	if err != nil {
		p.kill()
		return toolRun{}, err
	}
	wall, peak, n, err := p.waitExit(ctx, time.Minute)
	if err != nil {
		return toolRun{}, err
	}
	var s struct {
		Status  string `json:"status"`
		Dataset struct {
			Counts map[string]int `json:"counts"`
		} `json:"dataset"`
		Usage struct {
			Calls        int `json:"calls"`
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		} `json:"usage"`
		Initial struct {
			Val  float64  `json:"val"`
			Test *float64 `json:"test"`
		} `json:"initial"`
	}
	b, err := os.ReadFile(summary)
	if err != nil {
		return toolRun{}, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return toolRun{}, err
	}
	if s.Status != "succeeded" {
		return toolRun{}, fmt.Errorf("run ended %s", s.Status)
	}
	r := toolRun{Wall: wall, Work: done.at.Sub(up.at), PeakMiB: peak, Procs: n, Calls: s.Usage.Calls, CPU: p.cpu(),
		Tokens: s.Usage.InputTokens + s.Usage.OutputTokens}
	// The score over all rows: val and test are reported; train's share
	// is in the phase, so recompute the overall mean from val and test
	// weighted by their counts only when train is absent. Report val+test.
	if s.Initial.Test != nil {
		v, t := float64(s.Dataset.Counts["val"]), float64(s.Dataset.Counts["test"])
		r.Score = (s.Initial.Val*v + *s.Initial.Test*t) / (v + t)
		r.ExtraNote = "score over val+test"
	}
	return r, nil
}

// runPromptfooEval runs `promptfoo eval` once and reads its results file.
func runPromptfooEval(ctx context.Context, h *harness, env []string, bin string, args []string, out, dir string) (toolRun, error) {
	_ = os.Remove(out)
	p, err := startProc(ctx, dir, env, nil, nil, bin, args...)
	if err != nil {
		return toolRun{}, err
	}
	wall, peak, n, err := p.waitExit(ctx, 10*time.Minute)
	// promptfoo exits with 100 when some test failed (the 5% the simulator
	// gets wrong whatever the prompt): the evaluation itself succeeded.
	if err != nil && !(p.cmd.ProcessState != nil && p.cmd.ProcessState.ExitCode() == 100) {
		return toolRun{}, err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return toolRun{}, err
	}
	var res struct {
		Results struct {
			Stats struct {
				Successes, Failures, Errors int
				DurationMs                  float64 `json:"durationMs"`
				TokenUsage                  struct {
					Total       int `json:"total"`
					NumRequests int `json:"numRequests"`
				} `json:"tokenUsage"`
			} `json:"stats"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return toolRun{}, fmt.Errorf("%s: %w", out, err)
	}
	st := res.Results.Stats
	total := st.Successes + st.Failures + st.Errors
	if total == 0 {
		return toolRun{}, fmt.Errorf("%s: no results", out)
	}
	if st.Errors > 0 {
		return toolRun{}, fmt.Errorf("promptfoo reported %d errors of %d", st.Errors, total)
	}
	return toolRun{Wall: wall, Work: time.Duration(st.DurationMs * float64(time.Millisecond)), PeakMiB: peak, Procs: n, CPU: p.cpu(),
		Score: float64(st.Successes) / float64(total), Calls: st.TokenUsage.NumRequests, Tokens: st.TokenUsage.Total}, nil
}

// simStatsReset reads and restarts sim-server's counters (0s if it cannot:
// the report then shows no peak).
func simStatsReset(ctx context.Context, baseURL string) (peak, requests int) {
	var st struct {
		Requests     int `json:"requests"`
		PeakInFlight int `json:"peak_in_flight"`
	}
	if err := getJSON(ctx, strings.TrimSuffix(baseURL, "/v1")+"/sim/stats?reset=1", &st); err != nil {
		return 0, 0
	}
	return st.PeakInFlight, st.Requests
}
