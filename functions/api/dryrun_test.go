package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestDryRun(t *testing.T) {
	csv := readSample(t, "sentiment.csv")
	e := newEnv(t, csv)
	e.Upload(t, "sentiment.csv", csv)

	t.Run("estimate", func(t *testing.T) {
		r := e.do(t, http.MethodPost, "/runs?dry_run=true", []byte(`{"dataset":"gs://datasets/sentiment.csv",
			"config":{"epochs":2,"primary":{"provider":"vertex","name":"gemini-3.1-flash-lite"}}}`))
		if r.code != http.StatusOK {
			t.Fatalf("POST /runs?dry_run=true = %d %s, want 200", r.code, r.body)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(r.body, &raw); err != nil {
			t.Fatal(err)
		}
		if len(raw) != 2 || string(raw["dry_run"]) != "true" || raw["estimate"] == nil {
			t.Fatalf("reply %s: want exactly dry_run: true and estimate", r.body)
		}
		var est struct {
			Calls        int     `json:"calls"`
			InputTokens  int     `json:"input_tokens"`
			OutputTokens int     `json:"output_tokens"`
			CostUSD      float64 `json:"cost_usd"`
			Phases       []struct {
				Name  string `json:"name"`
				Calls int    `json:"calls"`
			} `json:"phases"`
		}
		if err := json.Unmarshal(raw["estimate"], &est); err != nil {
			t.Fatal(err)
		}
		// 80 rows at 0.6/0.2/0.2: 48 + 16 baseline; per epoch 1 proposal
		// × 3 max_tries optimizer calls, 16 val, 48 train; 16 + 16 test.
		if want := 64 + 2*(3+16+48) + 32; est.Calls != want {
			t.Errorf("calls %d, want %d", est.Calls, want)
		}
		if est.InputTokens <= 0 || est.OutputTokens <= 0 || est.CostUSD <= 0 || len(est.Phases) != 10 {
			t.Errorf("estimate %+v: want tokens, a cost at the Gemini price and 10 phases", est)
		}
		if runs, _ := e.Store.ListRuns(t.Context(), "", 10); len(runs) != 0 {
			t.Errorf("a dry run created %d runs", len(runs))
		}
		if bs, _ := e.Q.Take(); len(bs) != 0 {
			t.Errorf("a dry run published %d batches", len(bs))
		}
	})
	for _, tc := range []struct {
		name, body string
		code       int
		msg        string
	}{
		{"bad config", `{"dataset":"gs://datasets/sentiment.csv","config":{"epochs":-1}}`, http.StatusUnprocessableEntity, "epochs"},
		{"missing dataset", `{"dataset":"gs://datasets/none.csv"}`, http.StatusUnprocessableEntity, "does not exist"},
		{"other bucket", `{"dataset":"gs://elsewhere/x.csv"}`, http.StatusUnprocessableEntity, "datasets bucket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, http.MethodPost, "/runs?dry_run=true", []byte(tc.body))
			if r.code != tc.code || !strings.Contains(string(r.body), tc.msg) {
				t.Errorf("= %d %s, want %d mentioning %q", r.code, r.body, tc.code, tc.msg)
			}
		})
	}
}

// TestDryRunUpload: a form upload with ?dry_run=true is estimated from its
// CSV and config like the same file in the bucket, and nothing is stored.
func TestDryRunUpload(t *testing.T) {
	csv := readSample(t, "sentiment.csv")
	e := newEnv(t, csv)
	e.Upload(t, "sentiment.csv", csv)
	cfg := "epochs: 2\nprimary: {provider: vertex, name: gemini-3.1-flash-lite}\n"

	ref := e.do(t, http.MethodPost, "/runs?dry_run=true", []byte(`{"dataset":"gs://datasets/sentiment.csv",
		"config":{"epochs":2,"primary":{"provider":"vertex","name":"gemini-3.1-flash-lite"}}}`))
	body, ct := form(t, map[string]string{"csv": csv, "config": cfg})
	r := e.post(t, "/runs?dry_run=true", body, ct)
	if r.code != http.StatusOK || ref.code != http.StatusOK {
		t.Fatalf("form dry run = %d %s (JSON one %d), want 200", r.code, r.body, ref.code)
	}
	if string(r.body) != string(ref.body) {
		t.Errorf("form estimate %s\nwant the gs:// one %s", r.body, ref.body)
	}
	if runs, _ := e.Store.ListRuns(t.Context(), "", 10); len(runs) != 0 {
		t.Errorf("a dry run created %d runs", len(runs))
	}
	if bs, _ := e.Q.Take(); len(bs) != 0 {
		t.Errorf("a dry run published %d batches", len(bs))
	}

	body, ct = form(t, map[string]string{"csv": csv, "config": "epochs: -1\n"})
	if r := e.post(t, "/runs?dry_run=true", body, ct); r.code != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "epochs") {
		t.Errorf("bad config = %d %s, want 422 naming epochs", r.code, r.body)
	}
}
