package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"
)

// insertCall is one tabledata.insertAll request seen by the fake.
type insertCall struct {
	Project, Dataset, Table string
	Rows                    []fakeRow
}

type fakeRow struct {
	InsertID string         `json:"insertId"`
	JSON     map[string]any `json:"json"`
}

// fakeBigQuery speaks just enough of the BigQuery REST API for the Writer:
// POST /bigquery/v2/projects/{p}/datasets/{d}/tables/{t}/insertAll.
type fakeBigQuery struct {
	mu    sync.Mutex
	calls []insertCall
	// rowErrors, when set, makes the fake reject these row indexes of every
	// request, the way BigQuery reports invalid rows (HTTP 200 + insertErrors).
	rowErrors []int
}

func (f *fakeBigQuery) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/bigquery/v2/"), "/")
	if r.Method != http.MethodPost || len(parts) != 7 || parts[0] != "projects" ||
		parts[2] != "datasets" || parts[4] != "tables" || parts[6] != "insertAll" {
		http.Error(w, "unexpected request "+r.Method+" "+r.URL.Path, http.StatusNotFound)
		return
	}
	var body struct {
		Rows []fakeRow `json:"rows"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, insertCall{Project: parts[1], Dataset: parts[3], Table: parts[5], Rows: body.Rows})
	rowErrors := f.rowErrors
	f.mu.Unlock()

	resp := map[string]any{"kind": "bigquery#tableDataInsertAllResponse"}
	if len(rowErrors) > 0 {
		var errs []map[string]any
		for _, i := range rowErrors {
			errs = append(errs, map[string]any{
				"index":  i,
				"errors": []map[string]any{{"reason": "invalid", "message": "no such field: bogus"}},
			})
		}
		resp["insertErrors"] = errs
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

func (f *fakeBigQuery) snapshot() []insertCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]insertCall(nil), f.calls...)
}

// newTestWriter returns a Writer talking to a fresh fake, with a fixed clock.
func newTestWriter(t *testing.T, now time.Time) (*Writer, *fakeBigQuery) {
	t.Helper()
	// Never let a Google client library probe the metadata server.
	t.Setenv("GCE_METADATA_HOST", "127.0.0.1:1")
	fake := &fakeBigQuery{}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	w, err := New(context.Background(), "proj", "promptml",
		option.WithEndpoint(srv.URL+"/bigquery/v2/"),
		option.WithoutAuthentication(),
		option.WithHTTPClient(srv.Client()),
	)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	w.now = func() time.Time { return now }
	return w, fake
}

var (
	t0  = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now = time.Date(2026, 3, 1, 12, 5, 0, 0, time.UTC)
)

func TestInsertRowsAndTables(t *testing.T) {
	tests := []struct {
		name      string
		insert    func(context.Context, *Writer) error
		wantTable string
		wantRows  []map[string]any
		wantIDs   []string // key part of each insert ID (before the hash)
	}{
		{
			name: "runs",
			insert: func(ctx context.Context, w *Writer) error {
				return w.InsertRuns(ctx, []RunRow{{
					RunID: "r1", Status: "running", DatasetURI: "gs://d/x.csv",
					CreatedAt: t0, UpdatedAt: t0.Add(time.Minute), Epoch: 2,
					BestPromptID: "p1", InitialValScore: Float(0.5), BestValScore: Float(0.75),
					Calls: 10, InputTokens: 1000, OutputTokens: 200, CostUSD: 0.0125,
				}})
			},
			wantTable: "runs",
			wantRows: []map[string]any{{
				"run_id": "r1", "status": "running", "dataset_uri": "gs://d/x.csv",
				"created_at": "2026-03-01T12:00:00Z", "updated_at": "2026-03-01T12:01:00Z",
				"epoch": 2.0, "best_prompt_id": "p1",
				"initial_val_score": 0.5, "best_val_score": 0.75,
				// unknown test scores are sent as NULL, not 0
				"test_score_initial": nil, "test_score_best": nil,
				"calls": 10.0, "input_tokens": 1000.0, "output_tokens": 200.0,
				"cost_usd": 0.0125, "cache_hits": 0.0, "error": "",
				"inserted_at": "2026-03-01T12:05:00Z",
			}},
			wantIDs: []string{"r1"},
		},
		{
			name: "epochs without finish time",
			insert: func(ctx context.Context, w *Writer) error {
				return w.InsertEpochs(ctx, []EpochRow{{
					RunID: "r1", Epoch: 3, IncumbentID: "p1", CandidateIDs: []string{"p2", "p3"},
					BestCandidateID: "p3", IncumbentVal: Float(0.5), CandidateVal: Float(0.6),
					Delta: Float(0.1), PValue: Float(0.04), Decision: "accepted",
					Calls: 40, CostUSD: 0.5, StartedAt: t0,
				}})
			},
			wantTable: "epochs",
			wantRows: []map[string]any{{
				"run_id": "r1", "epoch": 3.0, "incumbent_id": "p1",
				"candidate_ids": []any{"p2", "p3"}, "best_candidate_id": "p3",
				"incumbent_val": 0.5, "candidate_val": 0.6, "delta": 0.1, "p_value": 0.04,
				"decision": "accepted", "calls": 40.0, "cost_usd": 0.5,
				// finished_at is zero: left out, so BigQuery stores NULL
				"started_at":  "2026-03-01T12:00:00Z",
				"inserted_at": "2026-03-01T12:05:00Z",
			}},
			wantIDs: []string{"r1/3"},
		},
		{
			name: "prompt versions keep caller's inserted_at",
			insert: func(ctx context.Context, w *Writer) error {
				return w.InsertPrompts(ctx, []PromptRow{{
					RunID: "r1", PromptID: "p2", ParentID: "p1", Epoch: 1, Strategy: "rewrite",
					SystemPrompt: "Be terse.", OutputPrompt: "Answer:", Reasoning: "fewer words",
					TrainScore: Float(0.7), Status: "candidate", InsertedAt: t0,
				}})
			},
			wantTable: "prompt_versions",
			wantRows: []map[string]any{{
				"run_id": "r1", "prompt_id": "p2", "parent_id": "p1", "epoch": 1.0,
				"strategy": "rewrite", "system_prompt": "Be terse.", "output_prompt": "Answer:",
				"reasoning": "fewer words", "train_score": 0.7, "val_score": nil, "test_score": nil,
				"status": "candidate", "inserted_at": "2026-03-01T12:00:00Z",
			}},
			wantIDs: []string{"r1/p2"},
		},
		{
			name: "example results",
			insert: func(ctx context.Context, w *Writer) error {
				return w.InsertResults(ctx, []ResultRow{
					{RunID: "r1", PhaseID: "e001-train-p1", PromptID: "p1", Split: "train", Batch: 7,
						ExampleID: "42", UserInput: "2+2?", Expected: "4", Actual: "4", Score: 1,
						LatencyMS: 850, InputTokens: 30, OutputTokens: 2},
					{RunID: "r1", PhaseID: "e001-train-p1", PromptID: "p1", Split: "train", Batch: 7,
						ExampleID: "43", UserInput: "3+3?", Expected: "6", Error: "timeout"},
				})
			},
			wantTable: "example_results",
			wantRows: []map[string]any{
				{"run_id": "r1", "phase_id": "e001-train-p1", "prompt_id": "p1", "split": "train",
					"batch": 7.0, "example_id": "42", "user_input": "2+2?", "expected": "4", "actual": "4",
					"score": 1.0, "error": "", "latency_ms": 850.0, "input_tokens": 30.0, "output_tokens": 2.0,
					"cached": false, "inserted_at": "2026-03-01T12:05:00Z"},
				{"run_id": "r1", "phase_id": "e001-train-p1", "prompt_id": "p1", "split": "train",
					"batch": 7.0, "example_id": "43", "user_input": "3+3?", "expected": "6", "actual": "",
					"score": 0.0, "error": "timeout", "latency_ms": 0.0, "input_tokens": 0.0, "output_tokens": 0.0,
					"cached": false, "inserted_at": "2026-03-01T12:05:00Z"},
			},
			wantIDs: []string{"r1/e001-train-p1/42", "r1/e001-train-p1/43"},
		},
		{
			name: "model usage",
			insert: func(ctx context.Context, w *Writer) error {
				return w.InsertModelUsage(ctx, []ModelUsageRow{{RunID: "r1", Scope: "phase", Unit: "train-p1", Model: "vertex/gemini-2.5-flash",
					Calls: 9, InputTokens: 900, OutputTokens: 90, Errors: 1, CacheHits: 3, CostUSD: 0.0005, CachedInputTokens: 512, ThinkingTokens: 40}})
			},
			wantTable: "model_usage",
			wantRows: []map[string]any{{"run_id": "r1", "scope": "phase", "unit": "train-p1", "model": "vertex/gemini-2.5-flash",
				"calls": 9.0, "input_tokens": 900.0, "output_tokens": 90.0, "errors": 1.0, "cache_hits": 3.0, "cost_usd": 0.0005,
				"cached_input_tokens": 512.0, "thinking_tokens": 40.0, "inserted_at": "2026-03-01T12:05:00Z"}},
			wantIDs: []string{"r1/phase/train-p1/vertex/gemini-2.5-flash"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, fake := newTestWriter(t, now)
			if err := tt.insert(context.Background(), w); err != nil {
				t.Fatalf("insert: %v", err)
			}
			calls := fake.snapshot()
			if len(calls) != 1 {
				t.Fatalf("got %d insertAll calls, want 1", len(calls))
			}
			c := calls[0]
			if c.Project != "proj" || c.Dataset != "promptml" || c.Table != tt.wantTable {
				t.Errorf("insertAll target = %s.%s.%s, want proj.promptml.%s", c.Project, c.Dataset, c.Table, tt.wantTable)
			}
			var gotRows []map[string]any
			var gotKeys []string
			for _, r := range c.Rows {
				gotRows = append(gotRows, r.JSON)
				i := strings.LastIndex(r.InsertID, "/")
				if i < 0 || len(r.InsertID)-i-1 != 16 {
					t.Errorf("insert ID %q: want <key>/<16 hex>", r.InsertID)
					continue
				}
				gotKeys = append(gotKeys, r.InsertID[:i])
			}
			if diff := cmp.Diff(tt.wantRows, gotRows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantIDs, gotKeys); diff != "" {
				t.Errorf("insert ID keys (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInsertIDsAreDeterministic(t *testing.T) {
	row := RunRow{RunID: "r1", Status: "running", UpdatedAt: t0}
	changed := row
	changed.Status = "done"

	ctx := context.Background()
	// Two writers at different times stand for a retried function execution:
	// inserted_at differs, the insert ID must not.
	w1, f1 := newTestWriter(t, now)
	w2, f2 := newTestWriter(t, now.Add(time.Hour))
	if err := w1.InsertRuns(ctx, []RunRow{row, changed}); err != nil {
		t.Fatal(err)
	}
	if err := w2.InsertRuns(ctx, []RunRow{row}); err != nil {
		t.Fatal(err)
	}
	first, retry := f1.snapshot()[0].Rows, f2.snapshot()[0].Rows
	if first[0].InsertID != retry[0].InsertID {
		t.Errorf("retried insert ID %q != first %q", retry[0].InsertID, first[0].InsertID)
	}
	if first[0].JSON["inserted_at"] == retry[0].JSON["inserted_at"] {
		t.Errorf("test setup: inserted_at should differ between the two inserts")
	}
	if first[0].InsertID == first[1].InsertID {
		t.Errorf("a changed snapshot reused insert ID %q", first[0].InsertID)
	}
}

func TestInsertDoesNotModifyCallerRows(t *testing.T) {
	w, _ := newTestWriter(t, now)
	rows := []RunRow{{RunID: "r1"}}
	if err := w.InsertRuns(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	if !rows[0].InsertedAt.IsZero() {
		t.Errorf("caller's row was stamped: %v", rows[0].InsertedAt)
	}
}

func TestInsertChunksLargeBatches(t *testing.T) {
	w, fake := newTestWriter(t, now)
	rows := make([]ResultRow, 1201)
	for i := range rows {
		rows[i] = ResultRow{RunID: "r1", PhaseID: "ph", ExampleID: fmt.Sprint(i)}
	}
	if err := w.InsertResults(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	seen := map[string]bool{}
	for _, c := range fake.snapshot() {
		sizes = append(sizes, len(c.Rows))
		for _, r := range c.Rows {
			seen[r.InsertID] = true
		}
	}
	if diff := cmp.Diff([]int{500, 500, 201}, sizes); diff != "" {
		t.Errorf("request sizes (-want +got):\n%s", diff)
	}
	if len(seen) != len(rows) {
		t.Errorf("got %d distinct insert IDs, want %d", len(seen), len(rows))
	}
}

func TestInsertReportsRowErrors(t *testing.T) {
	w, fake := newTestWriter(t, now)
	fake.rowErrors = []int{0}
	err := w.InsertPrompts(context.Background(), []PromptRow{{RunID: "r1", PromptID: "p1"}})
	if err == nil {
		t.Fatal("InsertPrompts succeeded, want the row error")
	}
	for _, want := range []string{"analytics.InsertPrompts", "prompt_versions", "no such field: bogus"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestNilWriterIsANoOp(t *testing.T) {
	var w *Writer
	ctx := context.Background()
	for name, err := range map[string]error{
		"InsertRuns":       w.InsertRuns(ctx, []RunRow{{RunID: "r"}}),
		"InsertEpochs":     w.InsertEpochs(ctx, []EpochRow{{RunID: "r"}}),
		"InsertPrompts":    w.InsertPrompts(ctx, []PromptRow{{RunID: "r"}}),
		"InsertResults":    w.InsertResults(ctx, []ResultRow{{RunID: "r"}}),
		"InsertModelUsage": w.InsertModelUsage(ctx, []ModelUsageRow{{RunID: "r"}}),
		"Close":            w.Close(),
	} {
		if err != nil {
			t.Errorf("%s on nil Writer: %v", name, err)
		}
	}
}

func TestNewRequiresDataset(t *testing.T) {
	if _, err := New(context.Background(), "proj", ""); err == nil {
		t.Error("New with an empty dataset succeeded")
	}
}

func TestInsertIDLength(t *testing.T) {
	long := strings.Repeat("x", 200)
	id := insertID(long, []byte("{}"))
	if len(id) > maxInsertIDLen {
		t.Errorf("insert ID has %d chars, want <= %d", len(id), maxInsertIDLen)
	}
	if id != insertID(long, []byte("{}")) {
		t.Error("hashed insert ID is not deterministic")
	}
}

func TestSchemas(t *testing.T) {
	got := Schemas()
	for _, table := range []string{RunsTable, EpochsTable, PromptVersionsTable, ExampleResultsTable, ModelUsageTable} {
		s, ok := got[table]
		if !ok {
			t.Errorf("no schema for %s", table)
			continue
		}
		if last := s[len(s)-1].Name; last != "inserted_at" {
			t.Errorf("%s: last column %q, want inserted_at", table, last)
		}
		if s[0].Name != "run_id" {
			t.Errorf("%s: first column %q, want run_id (the clustering key)", table, s[0].Name)
		}
	}
	// Callers get a copy.
	delete(got, RunsTable)
	if _, ok := Schemas()[RunsTable]; !ok {
		t.Error("Schemas returned the package's own map")
	}
}
