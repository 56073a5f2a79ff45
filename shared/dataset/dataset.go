// Package dataset turns a user's training CSV into the train/val/test batch
// shards the pipeline runs on.
//
// The CSV (RFC 4180, UTF-8) has the column ground_truth_output, optionally
// id and split; every other column is a variable of its row, which the
// prompt templates name as {{name}} (user_input is the default user turn). Ingest reads it twice through
// a Source: the first pass validates every row, hashes the bytes and keeps
// one 8-byte split key per row; the second pass streams the rows again into
// JSONL shards through a ShardWriter. Memory is bounded by the number of rows
// (a few tens of bytes each), never by the size of the file, and the split is
// deterministic for a given seed with exact per-split counts.
//
// Every problem the user can fix in the file is reported as an *Error naming
// the row and column; see docs/dataset.md.
package dataset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
)

// Split names, as used in shard paths, manifests and the split column.
const (
	Train = "train"
	Val   = "val"
	Test  = "test"
)

// Column names the header may use (compared trimmed and case-insensitively).
const (
	ColumnUserInput   = "user_input"
	ColumnGroundTruth = "ground_truth_output"
	ColumnID          = "id"
	ColumnSplit       = "split"
)

// splitNames maps a split index (idxTrain, idxVal, idxTest) to its name.
var splitNames = [3]string{Train, Val, Test}

const (
	idxTrain = iota
	idxVal
	idxTest
)

// ErrSourceChanged reports that the second read of the source did not return
// the bytes the first read validated: the object was replaced while the run
// was starting. The shards written so far are unusable; the newer object
// (which normally triggers its own run) should be ingested instead.
var ErrSourceChanged = errors.New("dataset: source changed between reads")

// ErrInvalidOptions reports Options that cannot be used (bad ratios or batch
// size). It is a configuration error, not a problem of the CSV.
var ErrInvalidOptions = errors.New("dataset: invalid options")

// Source opens the dataset for reading. Ingest opens it twice (validation,
// then writing the shards), so each Open must return the same bytes from the
// start; on Cloud Storage pin the object generation.
type Source interface {
	Open(ctx context.Context) (io.ReadCloser, error)
}

// ShardWriter creates the object that receives one batch of one split, e.g.
// runs/{run}/data/{split}/{batch}.jsonl. Close commits the object. Full
// shards are closed in background goroutines (up to 32 at once), so the
// writers' Close must be safe to call concurrently. When Ingest fails it
// lets the full shards finish committing, then cancels the context it
// passed to Create before closing the writers still open, so an
// implementation that commits on Close (Cloud Storage) abandons those
// partial shards instead.
type ShardWriter interface {
	Create(ctx context.Context, split string, batch int) (io.WriteCloser, error)
}

// Ratios are the fractions of the rows without an explicit split that go to
// each split. They must each be in [0,1], sum to 1 and leave Train > 0.
type Ratios struct {
	Train float64 `json:"train" yaml:"train" firestore:"train"`
	Val   float64 `json:"val" yaml:"val" firestore:"val"`
	Test  float64 `json:"test" yaml:"test" firestore:"test"`
}

// Validate reports whether r can split a dataset; the error wraps
// ErrInvalidOptions.
func (r Ratios) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{Train, r.Train}, {Val, r.Val}, {Test, r.Test}} {
		// The negated comparison also rejects NaN.
		if !(f.v >= 0 && f.v <= 1) {
			return fmt.Errorf("%w: ratio %s = %v, want a value in [0,1]", ErrInvalidOptions, f.name, f.v)
		}
	}
	if sum := r.Train + r.Val + r.Test; math.Abs(sum-1) > 1e-9 {
		return fmt.Errorf("%w: ratios sum to %v, want 1", ErrInvalidOptions, sum)
	}
	if r.Train <= 0 {
		return fmt.Errorf("%w: ratio train = %v, want > 0", ErrInvalidOptions, r.Train)
	}
	return nil
}

// Limits bound what a dataset may contain; 0 means unlimited. They are
// checked while streaming, so an oversized file fails at the first byte, row
// or cell over the limit rather than after being read whole.
type Limits struct {
	// MaxBytes caps the size of the file, byte order mark included.
	MaxBytes int64 `json:"max_bytes,omitempty" yaml:"max_bytes,omitempty"`
	// MaxRows caps the number of data rows (the header is not counted).
	MaxRows int `json:"max_rows,omitempty" yaml:"max_rows,omitempty"`
	// MaxCellBytes caps the size of any one cell, in bytes of UTF-8.
	MaxCellBytes int `json:"max_cell_bytes,omitempty" yaml:"max_cell_bytes,omitempty"`
}

// Options configure Validate and Ingest.
type Options struct {
	// Ratios split the rows that have no explicit split.
	Ratios Ratios
	// Seed makes the split reproducible: the same file and seed always give
	// the same assignment, a different seed a different one.
	Seed int64
	// BatchSize is the number of examples per shard; it must be >= 1.
	BatchSize int
	// Limits bound the file; the zero value means unlimited.
	Limits Limits
	// Templates are the prompt templates whose {{name}} placeholders must
	// name columns of the file; a used column's cells must not be empty.
	// nil means the default user turn alone, {{user_input}} as
	// prompt.user.
	Templates []Template
	// Accept, when set, is called by Ingest with the manifest after the
	// file is validated and before any shard is written; its error is
	// returned as is. It lets the caller refuse a valid file (too few rows
	// in a split) without leaving shards behind.
	Accept func(*Manifest) error
}

// Template is a prompt template of the run, checked against the header.
type Template struct {
	// Field names the template in messages, e.g. "prompt.user".
	Field string
	// Text is the template.
	Text string
}

// defaultTemplates are the templates of Options without any.
var defaultTemplates = []Template{{Field: "prompt.user", Text: "{{" + ColumnUserInput + "}}"}}

func (o Options) templates() []Template {
	if o.Templates == nil {
		return defaultTemplates
	}
	return o.Templates
}

func (o Options) validate() error {
	if err := o.Ratios.Validate(); err != nil {
		return err
	}
	if o.BatchSize < 1 {
		return fmt.Errorf("%w: batch size %d, want >= 1", ErrInvalidOptions, o.BatchSize)
	}
	if o.Limits.MaxBytes < 0 || o.Limits.MaxRows < 0 || o.Limits.MaxCellBytes < 0 {
		return fmt.Errorf("%w: negative limit %+v", ErrInvalidOptions, o.Limits)
	}
	return nil
}

// Manifest describes a validated dataset and its split; the start function
// records it on the run.
type Manifest struct {
	// SHA256 is the hex SHA-256 of the raw bytes of the file.
	SHA256 string `json:"sha256" firestore:"sha256"`
	// Bytes is the size of the file.
	Bytes int64 `json:"bytes" firestore:"bytes"`
	// Rows is the number of data rows.
	Rows int `json:"rows" firestore:"rows"`
	// Counts is the number of rows per split; all three splits are present.
	Counts map[string]int `json:"counts" firestore:"counts"`
	// Batches is the number of shards per split: ceil(Counts/BatchSize).
	Batches map[string]int `json:"batches" firestore:"batches"`
	// Variables lists, in file order, the columns a template may name as
	// {{name}}: every named column but id, split and ground_truth_output,
	// when its name is a valid placeholder name (at most 100).
	Variables []string `json:"variables,omitempty" firestore:"variables,omitempty"`
	// UnusedColumns lists, in file order, the header names of the
	// variables no template uses (unnamed columns are not listed). Their
	// cells are stored with the rows all the same.
	UnusedColumns []string `json:"unused_columns,omitempty" firestore:"unused_columns,omitempty"`
	// IgnoredColumns is UnusedColumns under its name from before templates,
	// kept for the readers of stored runs.
	IgnoredColumns []string `json:"ignored_columns,omitempty" firestore:"ignored_columns,omitempty"`
	// HasSplitColumn reports whether the header has a split column.
	HasSplitColumn bool `json:"has_split_column" firestore:"has_split_column"`
}

// Example is one row of a split, one JSON object per line of a shard.
type Example struct {
	// ID is the id column (trimmed), or the 1-based data row number when the
	// file has no id column.
	ID string `json:"id"`
	// Row is the CSV record number of the row, counting the header as row 1,
	// the same numbering errors use.
	Row int `json:"row"`
	// UserInput is the user_input cell, exactly as in the file ("" when
	// the file has no user_input column).
	UserInput string `json:"user_input"`
	// GroundTruth is the ground_truth_output cell, exactly as in the file.
	GroundTruth string `json:"ground_truth_output"`
	// Vars are the row's other variables, by column name: every named
	// column but id, split, user_input and ground_truth_output, each cell
	// exactly as in the file. Nil when the file has no such column.
	Vars map[string]string `json:"vars,omitempty"`
}

// Variables returns the values a template is rendered with: Vars plus
// user_input. The map is new; changing it does not change e.
func (e Example) Variables() map[string]string {
	m := make(map[string]string, len(e.Vars)+1)
	for k, v := range e.Vars {
		m[k] = v
	}
	m[ColumnUserInput] = e.UserInput
	return m
}
