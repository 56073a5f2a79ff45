package pipeline_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/iterator"

	"github.com/promptml/promptml/shared/dataset"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/pipeline/pipelinetest"
	"github.com/promptml/promptml/shared/store"
)

// corpusCase is one entry of testdata/badinput/cases.json (the dataset
// package's test documents the fields).
type corpusCase struct {
	Outcome        string            `json:"outcome"`
	Rows           int               `json:"rows"`
	Examples       []dataset.Example `json:"examples"`
	PipelineReason string            `json:"pipeline_reason"`
	Row            int               `json:"row"`
	Column         string            `json:"column"`
	Reason         string            `json:"reason"`
	Sidecar        string            `json:"sidecar"`
	Path           string            `json:"path"`
}

const corpusDir = "../../testdata/badinput"

// TestBadInputIntake sends every file of the bad-input corpus through the
// real intake, both ways a CSV arrives: a storage upload (with its
// sidecar) and the API's upload (StartFromCSV, the sidecar as config).
// The rule for a rejected file: the run exists and is "failed", its error
// names the row and column (or the config path) and the reason, and
// nothing else was created: no shard, prompt or phase, no message. An
// accepted file's run is at the baseline with exactly the expected rows in
// its shards.
func TestBadInputIntake(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(corpusDir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]corpusCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	e := pipelinetest.New(t, "")
	names := make([]string, 0, len(cases))
	for name := range cases {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		tc := cases[name]
		csv, err := os.ReadFile(filepath.Join(corpusDir, name))
		if err != nil {
			t.Fatal(err)
		}
		var sidecar []byte
		if tc.Sidecar != "" {
			if sidecar, err = os.ReadFile(filepath.Join(corpusDir, tc.Sidecar)); err != nil {
				t.Fatal(err)
			}
		}
		t.Run(name+"/upload", func(t *testing.T) {
			base := strings.TrimSuffix(name, ".csv")
			if sidecar != nil {
				e.Upload(t, base+".yaml", string(sidecar))
			}
			id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, name, string(csv)))
			if err != nil {
				t.Fatalf("StartFromUpload: %v (a bad file must fail the run, not the delivery)", err)
			}
			checkIntake(t, e, id, tc)
		})
		t.Run(name+"/api", func(t *testing.T) {
			r, err := e.P.StartFromCSV(t.Context(), pipeline.UploadRequest{Name: name, CSV: csv, Config: sidecar})
			if err != nil {
				t.Fatalf("StartFromCSV: %v", err)
			}
			checkIntake(t, e, r.ID, tc)
		})
	}
}

// TestGeneratedBadInputIntake: the inputs too big to commit, generated,
// through the API's upload at the default limits or a sidecar's.
func TestGeneratedBadInputIntake(t *testing.T) {
	header := "user_input,ground_truth_output\n"
	rows := func(n int) string {
		var b strings.Builder
		b.WriteString(header)
		for i := range n {
			fmt.Fprintf(&b, "q%d,a%d\n", i, i)
		}
		return b.String()
	}
	tests := []struct {
		name   string
		csv    string
		config string
		want   corpusCase
	}{
		{"10 MB cell", rows(5) + strings.Repeat("a", 10<<20) + ",x\n", "",
			corpusCase{Outcome: "reject", Row: 7, Column: "user_input", Reason: "cell is 10485760 bytes, over the limit of 65536 (MaxCellBytes)"}},
		{"rows over the limit", rows(51), "limits: {max_rows: 50}\n",
			corpusCase{Outcome: "reject", Row: 52, Reason: "more than 50 data rows, the limit (MaxRows)"}},
		{"bytes over the limit", rows(500), "limits: {max_bytes: 2048}\n",
			corpusCase{Outcome: "reject", Reason: "file is larger than the limit of 2048 bytes (MaxBytes)"}},
		{"sidecar over 1 MiB", rows(10), strings.Repeat("# padding\n", 110000),
			corpusCase{Outcome: "reject", Sidecar: "gen.yaml", Path: "(document)", Reason: "larger than the limit of 1048576 bytes"}},
		{"5000 extra columns", wideCSV(5000, 5), "split: {seed: 1}\n", corpusCase{Outcome: "accept", Rows: 5}},
		{"duplicate long column names", "user_input,ground_truth_output," + strings.Repeat("x", 10000) + "," + strings.Repeat("x", 10000) + "\na,b,c,d\n", "",
			corpusCase{Outcome: "reject", Row: 1, Column: strings.Repeat("x", 40) + "…", Reason: "duplicate column name (columns 3 and 4)"}},
	}
	e := pipelinetest.New(t, "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := e.P.StartFromCSV(t.Context(), pipeline.UploadRequest{Name: "gen.csv", CSV: []byte(tt.csv), Config: []byte(tt.config)})
			if err != nil {
				t.Fatalf("StartFromCSV: %v", err)
			}
			checkIntake(t, e, r.ID, tt.want)
		})
	}
}

// wideCSV returns a CSV with cols extra columns of 200-byte names, each
// different, and rows rows.
func wideCSV(cols, rows int) string {
	var b strings.Builder
	b.WriteString("user_input,ground_truth_output")
	for i := range cols {
		fmt.Fprintf(&b, ",extra_%05d_%s", i, strings.Repeat("x", 200))
	}
	b.WriteString("\n")
	for i := range rows {
		fmt.Fprintf(&b, "hello %d,bonjour%s\n", i, strings.Repeat(",", cols))
	}
	return b.String()
}

// checkIntake checks the run id's state after its intake against tc.
func checkIntake(t *testing.T, e *pipelinetest.Env, id string, tc corpusCase) {
	t.Helper()
	ctx := t.Context()
	r, err := e.Store.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	bs, ds := e.Q.Take()
	phases, err := e.Store.ListPhases(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	prompts, err := e.Store.ListPrompts(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	shards := objects(t, e, "runs/"+id+"/")
	reject := tc.Outcome == "reject" || tc.PipelineReason != ""
	if reject {
		if r.Status != store.StatusFailed || r.Error == nil {
			t.Fatalf("run is %s (stage %s, error %+v), want failed", r.Status, r.Stage, r.Error)
		}
		want := tc.Reason
		if tc.PipelineReason != "" {
			want = tc.PipelineReason
		}
		if !strings.Contains(r.Error.Message, want) {
			t.Errorf("error message %q does not contain %q", r.Error.Message, want)
		}
		switch {
		case tc.Sidecar != "":
			if r.Error.Path != tc.Path || !strings.HasPrefix(r.Error.Message, "invalid config: ") {
				t.Errorf("error = %+v, want an invalid config at path %q", r.Error, tc.Path)
			}
		case tc.PipelineReason == "":
			if r.Error.Row != tc.Row || r.Error.Column != tc.Column || !strings.HasPrefix(r.Error.Message, "invalid CSV gs://") {
				t.Errorf("error = %+v, want an invalid CSV at row %d, column %q", r.Error, tc.Row, tc.Column)
			}
		}
		if len(bs)+len(ds) > 0 || len(phases) > 0 || len(shards) > 0 {
			t.Errorf("a rejected file left %d messages, %d phases, %d prompts, objects %v", len(bs)+len(ds), len(phases), len(prompts), shards)
		}
		if tc.PipelineReason == "" && len(prompts) > 0 {
			t.Errorf("a rejected file left %d prompts", len(prompts))
		}
		return
	}
	if r.Status != store.StatusRunning || r.Stage != store.StageBaseline || r.Error != nil {
		t.Fatalf("run is %s at %s (error %+v), want running at the baseline", r.Status, r.Stage, r.Error)
	}
	if r.Dataset.Rows != tc.Rows || len(phases) != 2 || len(bs) == 0 {
		t.Errorf("dataset %d rows, %d phases, %d batch messages; want %d rows, 2 phases, some batches", r.Dataset.Rows, len(phases), len(bs), tc.Rows)
	}
	if tc.Examples == nil {
		return
	}
	var got []dataset.Example
	for _, name := range shards {
		if !strings.Contains(name, "/data/") {
			continue
		}
		rc, err := e.Blob.Open(ctx, pipelinetest.Artifacts, name, 0)
		if err != nil {
			t.Fatal(err)
		}
		exs, err := dataset.ReadShard(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, exs...)
	}
	slices.SortFunc(got, func(a, b dataset.Example) int { return a.Row - b.Row })
	if diff := cmp.Diff(tc.Examples, got); diff != "" {
		t.Errorf("examples in the shards (-want +got):\n%s", diff)
	}
}

// objects lists the artifacts under prefix.
func objects(t *testing.T, e *pipelinetest.Env, prefix string) []string {
	t.Helper()
	var names []string
	it := e.GCS.Bucket(pipelinetest.Artifacts).Objects(t.Context(), &storage.Query{Prefix: prefix})
	for {
		a, err := it.Next()
		if err == iterator.Done {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, a.Name)
	}
}
