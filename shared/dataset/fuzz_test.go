package dataset

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzIngest feeds arbitrary bytes to the CSV intake. Whatever the input,
// Validate and Ingest must agree, never panic, and either accept the file
// with the documented guarantees (every row in exactly one shard, cells
// valid UTF-8 without NUL, inputs and answers not blank, ids unique) or
// reject it with an *Error that says why.
func FuzzIngest(f *testing.F) {
	seeds := []string{
		"",
		"\ufeff",
		"user_input,ground_truth_output\n",
		"user_input,ground_truth_output\na,b\n",
		"id,user_input,ground_truth_output,split\n1,a,b,train\n2,c,d,val\n3,e,f,\n",
		"id,user_input,ground_truth_output\n1,a,b\n1,c,d\n",
		"user_input,ground_truth_output\r\n\"multi\r\nline\",\"x\"\"y\"\r\n",
		"user_input,ground_truth_output\n\"unbalanced,b\n",
		"user_input,ground_truth_output\na,b,c\n",
		"user_input;ground_truth_output\na;b\n",
		"user_input,ground_truth_output\r=HYPERLINK(\"x\"),b\r",
		"\xff\xfeu\x00s\x00",
		"user_input,ground_truth_output\na\x00,b\n",
		"user_input,ground_truth_output\n\xe9,b\n",
		"User_Input,user_input,ground_truth_output\na,b,c\n",
		"user_input,ground_truth_output,,\na,b,,\n",
		"user_input,ground_truth_output\n   ,b\n",
		"split,user_input,ground_truth_output\ntraining,a,b\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	opts := Options{
		Ratios:    Ratios{Train: 0.5, Val: 0.25, Test: 0.25},
		Seed:      1,
		BatchSize: 2,
		Limits:    Limits{MaxBytes: 1 << 16, MaxRows: 200, MaxCellBytes: 512},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		m, verr := Validate(ctx, strings.NewReader(string(data)), opts)
		w := &memWriter{}
		im, ierr := Ingest(ctx, stringSource(data), opts, w)
		if (verr == nil) != (ierr == nil) {
			t.Fatalf("Validate error %v, Ingest error %v: they must agree", verr, ierr)
		}
		if verr != nil {
			var de *Error
			if !errors.As(verr, &de) {
				t.Fatalf("Validate error %v (%T) is not a *dataset.Error", verr, verr)
			}
			if de.Reason == "" || de.Error() == "" {
				t.Fatalf("error without a reason: %#v", de)
			}
			if ierr.Error() != verr.Error() {
				t.Fatalf("Validate error %q, Ingest error %q", verr, ierr)
			}
			for name, f := range w.files {
				if f.committed {
					t.Fatalf("rejected file committed shard %s", name)
				}
			}
			return
		}
		if m.SHA256 != im.SHA256 || m.Rows != im.Rows {
			t.Fatalf("Validate manifest %+v, Ingest manifest %+v", m, im)
		}
		if m.Rows < 1 || m.Rows > opts.Limits.MaxRows || m.Bytes != int64(len(data)) {
			t.Fatalf("manifest %+v for %d bytes", m, len(data))
		}
		got := w.splitExamples(t, opts.BatchSize)
		total := 0
		seen := map[string]bool{}
		for split, exs := range got {
			if len(exs) != m.Counts[split] {
				t.Fatalf("split %s: %d examples, manifest says %d", split, len(exs), m.Counts[split])
			}
			total += len(exs)
			for _, ex := range exs {
				for _, s := range []string{ex.ID, ex.UserInput, ex.GroundTruth} {
					if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 || len(s) > opts.Limits.MaxCellBytes {
						t.Fatalf("accepted a bad cell %q in %+v", s, ex)
					}
				}
				if isBlank(ex.UserInput) || isBlank(ex.GroundTruth) || ex.ID == "" {
					t.Fatalf("accepted an empty value in %+v", ex)
				}
				if seen[ex.ID] {
					t.Fatalf("id %q in two rows", ex.ID)
				}
				seen[ex.ID] = true
			}
		}
		if total != m.Rows {
			t.Fatalf("%d examples in shards, %d rows", total, m.Rows)
		}
	})
}
