package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// BadInputDir is the bad-input corpus shared with the pipeline's intake
// test: the files and cases.json, their expected outcomes.
const badInputDir = "../../testdata/badinput"

// badInputCase is one entry of cases.json.
type badInputCase struct {
	// Outcome is "accept" or "reject".
	Outcome string `json:"outcome"`
	// Rows, IgnoredColumns and Examples (all rows, in file order) describe
	// an accepted file; Normalization says in words what was changed.
	Rows           int       `json:"rows"`
	IgnoredColumns []string  `json:"ignored_columns"`
	Examples       []Example `json:"examples"`
	Normalization  string    `json:"normalization"`
	// PipelineReason: the file is valid CSV but the intake refuses it.
	PipelineReason string `json:"pipeline_reason"`
	// Row, Column and Reason (a substring) describe a rejected file.
	Row    int    `json:"row"`
	Column string `json:"column"`
	Reason string `json:"reason"`
	// Sidecar names a config uploaded next to the CSV; Path is the config
	// path its error names. The CSV of a sidecar case is valid.
	Sidecar string `json:"sidecar"`
	Path    string `json:"path"`
}

func loadBadInput(t *testing.T) map[string]badInputCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(badInputDir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]badInputCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestBadInputCorpus sends every file of the corpus through Validate and
// Ingest: an accepted file gives exactly the expected rows (the documented
// normalizations and nothing else), a rejected one an *Error naming the
// expected row, column and reason, with no shard committed.
func TestBadInputCorpus(t *testing.T) {
	cases := loadBadInput(t)
	files, err := filepath.Glob(filepath.Join(badInputDir, "*.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("corpus has %d CSV files, want at least 30", len(files))
	}
	opts := Options{Ratios: Ratios{Train: 0.6, Val: 0.2, Test: 0.2}, Seed: 42, BatchSize: 2,
		Limits: Limits{MaxBytes: 100 << 20, MaxRows: 1000000, MaxCellBytes: 64 << 10}}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			tc, ok := cases[name]
			if !ok {
				t.Fatalf("%s has no entry in cases.json", name)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if tc.Sidecar != "" {
				// The CSV is fine; the sidecar is the pipeline test's.
				tc = badInputCase{Outcome: "accept", Rows: -1}
			}
			checkCorpusFile(t, data, opts, tc)
		})
	}
}

// checkCorpusFile checks one file against its case.
func checkCorpusFile(t *testing.T, data []byte, opts Options, tc badInputCase) {
	t.Helper()
	w := &memWriter{}
	m, err := Ingest(context.Background(), stringSource(data), opts, w)
	vm, verr := Validate(context.Background(), bytes.NewReader(data), opts)
	if (err == nil) != (verr == nil) {
		t.Fatalf("Ingest error %v, Validate error %v: they must agree", err, verr)
	}
	if tc.Outcome == "reject" {
		var de *Error
		if !errors.As(err, &de) {
			t.Fatalf("Ingest = %v, want a *dataset.Error", err)
		}
		if de.Row != tc.Row || de.Column != tc.Column || !strings.Contains(de.Reason, tc.Reason) {
			t.Errorf("error = %#v (%q), want row %d, column %q, reason containing %q", de, de.Error(), tc.Row, tc.Column, tc.Reason)
		}
		for name, f := range w.files {
			if f.committed {
				t.Errorf("a rejected file committed shard %s", name)
			}
		}
		return
	}
	if err != nil {
		t.Fatalf("Ingest = %v, want the file accepted (%s)", err, tc.Normalization)
	}
	if diff := cmp.Diff(m, vm); diff != "" {
		t.Errorf("Ingest and Validate manifests differ:\n%s", diff)
	}
	if tc.Rows < 0 {
		return
	}
	if m.Rows != tc.Rows {
		t.Errorf("rows = %d, want %d", m.Rows, tc.Rows)
	}
	if diff := cmp.Diff(tc.IgnoredColumns, m.IgnoredColumns, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("ignored columns (-want +got):\n%s", diff)
	}
	var got []Example
	for _, exs := range w.splitExamples(t, opts.BatchSize) {
		got = append(got, exs...)
	}
	slices.SortFunc(got, func(a, b Example) int { return a.Row - b.Row })
	if diff := cmp.Diff(tc.Examples, got); diff != "" {
		t.Errorf("examples (-want +got), normalization %q:\n%s", tc.Normalization, diff)
	}
}

// TestGeneratedBadInput covers the inputs too big to commit: they are
// generated here, checked at the default limits of the run config.
func TestGeneratedBadInput(t *testing.T) {
	header := "user_input,ground_truth_output\n"
	rows := func(n int) string {
		var b strings.Builder
		b.WriteString(header)
		for i := range n {
			fmt.Fprintf(&b, "q%d,a%d\n", i, i)
		}
		return b.String()
	}
	manyColumns := func(n int) string {
		var b strings.Builder
		b.WriteString(header[:len(header)-1])
		for i := range n {
			fmt.Fprintf(&b, ",extra_%d_%s", i, strings.Repeat("x", 100))
		}
		b.WriteString("\nhello,bonjour" + strings.Repeat(",", n) + "\nbye,au revoir" + strings.Repeat(",", n) + "\n")
		return b.String()
	}
	def := Limits{MaxBytes: 100 << 20, MaxRows: 1000000, MaxCellBytes: 64 << 10}
	tests := []struct {
		name   string
		data   string
		limits Limits
		want   badInputCase
	}{
		{"10 MB cell", header + "hello,bonjour\n" + strings.Repeat("a", 10<<20) + ",x\n", def,
			badInputCase{Outcome: "reject", Row: 3, Column: "user_input", Reason: "cell is 10485760 bytes, over the limit of 65536 (MaxCellBytes)"}},
		{"10 MB quoted cell with newlines", header + "\"" + strings.Repeat("a\n", 5<<20) + "\",x\n", def,
			badInputCase{Outcome: "reject", Row: 2, Column: "user_input", Reason: "over the limit of 65536 (MaxCellBytes)"}},
		{"10 MB header cell", strings.Repeat("h", 10<<20) + "," + header, def,
			badInputCase{Outcome: "reject", Row: 1, Reason: "header cell 1: cell is 10485760 bytes"}},
		{"rows over the limit", rows(1001), Limits{MaxRows: 1000},
			badInputCase{Outcome: "reject", Row: 1002, Reason: "more than 1000 data rows, the limit (MaxRows)"}},
		{"rows at the limit", rows(1000), Limits{MaxRows: 1000}, badInputCase{Outcome: "accept", Rows: -1}},
		{"bytes over the limit", rows(1000), Limits{MaxBytes: 4096},
			badInputCase{Outcome: "reject", Reason: "file is larger than the limit of 4096 bytes (MaxBytes)"}},
		{"one million blank lines", header + strings.Repeat("\n", 1000000) + "hello,bonjour\n", def, badInputCase{Outcome: "accept", Rows: -1}},
		{"5000 extra columns", manyColumns(5000), def, badInputCase{Outcome: "accept", Rows: -1}},
	}
	opts := Options{Ratios: Ratios{Train: 0.6, Val: 0.2, Test: 0.2}, Seed: 42, BatchSize: 100}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts
			o.Limits = tt.limits
			checkCorpusFile(t, []byte(tt.data), o, tt.want)
		})
	}
}

// TestIgnoredColumnsBounded: the manifest (stored on the run document)
// lists at most 50 ignored columns, each cut to 40 bytes, and counts the
// rest, so a wide file cannot make the run document too large to write.
func TestIgnoredColumnsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("user_input,ground_truth_output")
	for i := range 5000 {
		fmt.Fprintf(&b, ",extra_%04d_%s", i, strings.Repeat("x", 100))
	}
	b.WriteString("\nhello,bonjour" + strings.Repeat(",", 5000) + "\n")
	m, err := Validate(context.Background(), strings.NewReader(b.String()), Options{Ratios: Ratios{Train: 1}, BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.IgnoredColumns) != 51 || m.IgnoredColumns[50] != "… and 4950 more" {
		t.Fatalf("ignored columns: %d entries, last %q; want 50 names and \"… and 4950 more\"", len(m.IgnoredColumns), m.IgnoredColumns[len(m.IgnoredColumns)-1])
	}
	if want := "extra_0000_" + strings.Repeat("x", 29) + "…"; m.IgnoredColumns[0] != want {
		t.Errorf("first ignored column %q, want %q", m.IgnoredColumns[0], want)
	}
}

// TestAcceptRefusesBeforeShards: Options.Accept sees the manifest of a
// valid file and its error stops Ingest before any shard exists.
func TestAcceptRefusesBeforeShards(t *testing.T) {
	refused := errors.New("too small")
	var seen *Manifest
	w := &memWriter{}
	opts := Options{Ratios: Ratios{Train: 0.5, Val: 0.5}, BatchSize: 1, Accept: func(m *Manifest) error {
		seen = m
		return refused
	}}
	_, err := Ingest(context.Background(), stringSource(genCSV(1, true)), opts, w)
	if !errors.Is(err, refused) {
		t.Fatalf("Ingest = %v, want the Accept error", err)
	}
	if seen == nil || seen.Rows != 1 || seen.Counts[Val] != 1 {
		t.Errorf("Accept saw %+v, want the manifest of 1 row in val", seen)
	}
	if len(w.files) != 0 {
		t.Errorf("Ingest created %d shards after Accept refused", len(w.files))
	}
}
