package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/llm"
)

// runScoreCmd runs `score` with args and returns stdout, stderr and the error.
func runScoreCmd(t *testing.T, deps depsFunc, args ...string) (string, string, error) {
	t.Helper()
	cmd := newScoreCmd()
	if deps != nil {
		cmd = newScoreCmdWith(deps)
	}
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	return stdout.String(), stderr.String(), err
}

// wantScore is the value the eval package gives, formatted as the CLI does.
func wantScore(t *testing.T, spec eval.Spec, pred, ref string) string {
	t.Helper()
	m, err := eval.Build([]eval.Spec{spec}, eval.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Score(t.Context(), pred, ref)
	if err != nil {
		t.Fatal(err)
	}
	return formatScore(s.Value)
}

func TestScorePair(t *testing.T) {
	tests := []struct {
		name string
		args []string
		spec eval.Spec
		pred string
		ref  string
	}{
		{name: "bleu", args: []string{"--metric", "bleu"}, spec: eval.Spec{Name: "bleu"}, pred: "The cat sat on the mat.", ref: "The cat is on the mat."},
		{name: "exact match miss", args: []string{"--metric", "exact_match"}, spec: eval.Spec{Name: "exact_match"}, pred: "Paris", ref: "paris"},
		{
			name: "numeric with option", args: []string{"--metric", "numeric", "--option", "abs_tol=0.5"},
			spec: eval.Spec{Name: "numeric", Options: map[string]any{"abs_tol": 0.5}}, pred: "10.4", ref: "10",
		},
		{
			name: "list option", args: []string{"--metric", "normalized_match", "--option", "normalizers=case,whitespace"},
			spec: eval.Spec{Name: "normalized_match", Options: map[string]any{"normalizers": []any{"case", "whitespace"}}}, pred: " PARIS ", ref: "paris",
		},
		{
			name: "regex option with brackets", args: []string{"--metric", "regex", "--option", "pattern=[A-D]"},
			spec: eval.Spec{Name: "regex", Options: map[string]any{"pattern": "[A-D]"}}, pred: "C", ref: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(tt.args, "--pred", tt.pred, "--ref", tt.ref)
			stdout, _, err := runScoreCmd(t, nil, args...)
			if err != nil {
				t.Fatalf("score: %v", err)
			}
			got := strings.TrimSpace(stdout)
			if want := wantScore(t, tt.spec, tt.pred, tt.ref); got != want {
				t.Errorf("stdout = %q, want %q", got, want)
			}
			v, err := strconv.ParseFloat(got, 64)
			if err != nil || v < 0 || v > 1 {
				t.Errorf("stdout %q is not one number in [0,1]", got)
			}
		})
	}
}

func TestScorePairExplanationOnStderr(t *testing.T) {
	stdout, stderr, err := runScoreCmd(t, nil, "--metric", "contains_all", "--pred", "red", "--ref", "red|blue")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(stdout) != formatScore(0.5) || !strings.Contains(stderr, "missing: blue") {
		t.Errorf("stdout %q stderr %q, want 0.5 and the explanation on stderr", stdout, stderr)
	}
}

func writeCSV(t *testing.T, rows [][]string) string {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "preds.csv")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// parseOutput splits the CLI's output into the row table and the statistics.
func parseOutput(t *testing.T, stdout string) ([][]string, map[string]string) {
	t.Helper()
	rowsPart, statsPart, ok := strings.Cut(stdout, "\n\n")
	if !ok {
		t.Fatalf("output has no blank line between rows and aggregate:\n%s", stdout)
	}
	rows, err := csv.NewReader(strings.NewReader(rowsPart)).ReadAll()
	if err != nil {
		t.Fatalf("rows are not CSV: %v\n%s", err, rowsPart)
	}
	recs, err := csv.NewReader(strings.NewReader(statsPart)).ReadAll()
	if err != nil {
		t.Fatalf("aggregate is not CSV: %v\n%s", err, statsPart)
	}
	stats := map[string]string{}
	for _, r := range recs[1:] {
		stats[r[0]] = r[1]
	}
	if diff := cmp.Diff([]string{"statistic", "value"}, recs[0]); diff != "" {
		t.Errorf("aggregate header mismatch (-want +got):\n%s", diff)
	}
	return rows, stats
}

func TestScoreFile(t *testing.T) {
	preds := []string{"The cat sat on the mat.", "Hello, world!", "the cat"}
	refs := []string{"The cat is on the mat.", "Hello world", "the cat sat down"}
	rows := [][]string{{"user_input", "ground_truth_output", "prediction"}}
	for i := range preds {
		rows = append(rows, []string{"q", refs[i], preds[i]})
	}
	path := writeCSV(t, rows)
	stdout, _, err := runScoreCmd(t, nil, "--metric", "bleu", "--file", path)
	if err != nil {
		t.Fatal(err)
	}
	got, stats := parseOutput(t, stdout)

	m, err := eval.Build([]eval.Spec{{Name: "bleu"}}, eval.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"row", "score", "explanation", "error"}}
	var values []float64
	for i := range preds {
		s, err := m.Score(t.Context(), preds[i], refs[i])
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, s.Value)
		want = append(want, []string{strconv.Itoa(i + 1), formatScore(s.Value), "", ""})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows mismatch (-want +got):\n%s", diff)
	}
	sum := eval.Summarize(values, eval.Threshold(m))
	corpus, _, err := eval.Corpus(m, preds, refs)
	if err != nil {
		t.Fatal(err)
	}
	wantStats := map[string]string{
		"metric": "bleu", "n": "3", "errors": "0",
		"mean": formatScore(sum.Mean), "pass_rate": formatScore(sum.PassRate), "threshold": formatScore(eval.Threshold(m)),
		"ci_low": formatScore(sum.CILow), "ci_high": formatScore(sum.CIHigh), "corpus": formatScore(corpus),
	}
	if diff := cmp.Diff(wantStats, stats); diff != "" {
		t.Errorf("aggregate mismatch (-want +got):\n%s", diff)
	}
}

func TestScoreFileCountsErrorsSeparately(t *testing.T) {
	// regex takes the pattern from the reference; "(" is not a pattern, so
	// that row has no score.
	path := writeCSV(t, [][]string{
		{"prediction", "ground_truth_output"},
		{"A", "[A-D]"},
		{"x", "("},
		{"E", "[A-D]"},
	})
	stdout, _, err := runScoreCmd(t, nil, "--metric", "regex", "--file", path)
	if err != nil {
		t.Fatal(err)
	}
	rows, stats := parseOutput(t, stdout)
	if rows[2][1] != "" || !strings.Contains(rows[2][3], "not a valid pattern") {
		t.Errorf("row 2 = %q, want no score and the error", rows[2])
	}
	if stats["n"] != "2" || stats["errors"] != "1" || stats["mean"] != formatScore(0.5) {
		t.Errorf("aggregate = %v, want n=2 errors=1 mean=0.5", stats)
	}
	if _, ok := stats["corpus"]; ok {
		t.Errorf("aggregate has a corpus value for regex: %v", stats)
	}
}

type fakeJudge struct{ prompts []string }

func (j *fakeJudge) Generate(_ context.Context, req *llm.Request) (*llm.Response, error) {
	j.prompts = append(j.prompts, req.Prompt)
	return &llm.Response{Text: `{"reasoning":"fine","score":9}`}, nil
}

func TestScoreFileJudgeSeesInput(t *testing.T) {
	j := &fakeJudge{}
	deps := func(context.Context, string, modelFlags) (eval.Deps, error) { return eval.Deps{Judge: j}, nil }
	path := writeCSV(t, [][]string{{"user_input", "prediction", "ground_truth_output"}, {"What is 2+2?", "4", "4"}})
	stdout, _, err := runScoreCmd(t, deps, "--metric", "llm_judge", "--option", "rubric=Correct arithmetic.", "--file", path)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := parseOutput(t, stdout)
	if rows[1][1] != formatScore(0.9) || rows[1][2] != "fine" {
		t.Errorf("row = %q, want score 0.9 and the judge's reasoning", rows[1])
	}
	if len(j.prompts) != 1 || !strings.Contains(j.prompts[0], "What is 2+2?") {
		t.Errorf("judge prompts = %q, want the user_input shown", j.prompts)
	}
}

func TestScoreErrors(t *testing.T) {
	noCol := writeCSV(t, [][]string{{"prediction", "expected"}, {"a", "a"}})
	tests := []struct {
		name string
		args []string
		want string
		// code is the exit code main uses (issue 17 item 7: usage errors
		// exit 2, not 1).
		code int
	}{
		{"no metric", []string{"--pred", "a", "--ref", "a"}, "--metric is required", exitUsage},
		{"unknown metric", []string{"--metric", "blue", "--pred", "a", "--ref", "a"}, `unknown metric "blue"`, exitUsage},
		{"bad option value", []string{"--metric", "numeric", "--option", "abs_tol=-1", "--pred", "1", "--ref", "1"}, "metrics[0].options.abs_tol: must be >= 0", exitUsage},
		{"unknown option", []string{"--metric", "bleu", "--option", "order=3", "--pred", "a", "--ref", "a"}, "options.order: unknown option", exitUsage},
		{"option syntax", []string{"--metric", "bleu", "--option", "order", "--pred", "a", "--ref", "a"}, "want key=value", exitUsage},
		{"missing column", []string{"--metric", "exact_match", "--file", noCol}, `missing column "ground_truth_output"`, exitUsage},
		{"missing file", []string{"--metric", "exact_match", "--file", filepath.Join(t.TempDir(), "nope.csv")}, "no such file", exitUsage},
		{"pred without ref", []string{"--metric", "exact_match", "--pred", "a"}, "--pred and --ref go together", exitUsage},
		{"both modes", []string{"--metric", "exact_match", "--pred", "a", "--ref", "a", "--file", noCol}, "not both", exitUsage},
		{"no input", []string{"--metric", "exact_match"}, "give --file", exitUsage},
		{"judge without project", []string{"--metric", "llm_judge", "--option", "rubric=r", "--project", "", "--pred", "a", "--ref", "a"}, "needs a Vertex AI project", exitUsage},
		{"score error", []string{"--metric", "numeric", "--pred", "1", "--ref", "none"}, "exactly one number", exitFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runScoreCmd(t, nil, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
			if code := exitCode(err); code != tt.code {
				t.Errorf("exit code %d, want %d (%v)", code, tt.code, err)
			}
			if tt.code == exitUsage && !strings.Contains(tt.name, "file") && !strings.Contains(tt.name, "column") && !strings.Contains(err.Error(), "Usage: promptml score") {
				t.Errorf("usage error without the usage line: %v", err)
			}
		})
	}
}

func TestScoreList(t *testing.T) {
	stdout, _, err := runScoreCmd(t, nil, "--list")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strings.Join(eval.Names(), "\n")+"\n", stdout); diff != "" {
		t.Errorf("--list mismatch (-want +got):\n%s", diff)
	}
}

func TestVertexDepsOnlyForModelMetrics(t *testing.T) {
	for _, name := range eval.Names() {
		d, err := vertexDeps(t.Context(), name, modelFlags{})
		needs := name == "llm_judge" || name == "semantic_similarity"
		if needs != (err != nil) {
			t.Errorf("vertexDeps(%s) without a project: err = %v, want an error only for model metrics", name, err)
		}
		if !needs && (d.Judge != nil || d.Embedder != nil) {
			t.Errorf("vertexDeps(%s) = %+v, want no clients", name, d)
		}
	}
}

// formulaJudge answers with reasoning a spreadsheet would run.
type formulaJudge struct{}

func (formulaJudge) Generate(context.Context, *llm.Request) (*llm.Response, error) {
	return &llm.Response{Text: `{"reasoning":"=HYPERLINK(\"http://evil.example\",\"see\")","score":9}`}, nil
}

// TestScoreFileNeutralizesFormulas: the CSV `score --file` writes never
// holds a cell a spreadsheet would evaluate, even when a judge's
// explanation or an error message starts like a formula.
func TestScoreFileNeutralizesFormulas(t *testing.T) {
	deps := func(context.Context, string, modelFlags) (eval.Deps, error) {
		return eval.Deps{Judge: formulaJudge{}}, nil
	}
	path := writeCSV(t, [][]string{{"prediction", "ground_truth_output"}, {"=1+1", "@x"}})
	stdout, _, err := runScoreCmd(t, deps, "--metric", "llm_judge", "--option", "rubric=Correct.", "--file", path)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := parseOutput(t, stdout)
	if got, want := rows[1][2], `'=HYPERLINK("http://evil.example","see")`; got != want {
		t.Errorf("explanation cell = %q, want %q", got, want)
	}
	recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil {
		// The blank line between rows and statistics: read leniently.
		r := csv.NewReader(strings.NewReader(stdout))
		r.FieldsPerRecord = -1
		if recs, err = r.ReadAll(); err != nil {
			t.Fatal(err)
		}
	}
	for _, rec := range recs {
		for _, cell := range rec {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				if _, err := strconv.ParseFloat(cell, 64); err != nil {
					t.Errorf("cell %q would be evaluated by a spreadsheet", cell)
				}
			}
		}
	}
}
