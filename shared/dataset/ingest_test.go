package dataset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOptionsValidation(t *testing.T) {
	ok := Options{Ratios: Ratios{Train: 0.8, Val: 0.1, Test: 0.1}, BatchSize: 10}
	tests := []struct {
		name   string
		modify func(*Options)
		want   string // substring of the error; "" for valid
	}{
		{"valid", func(*Options) {}, ""},
		{"all train", func(o *Options) { o.Ratios = Ratios{Train: 1} }, ""},
		{"sum off by float error", func(o *Options) { o.Ratios = Ratios{Train: 0.7, Val: 0.2, Test: 0.1} }, ""},
		{"negative", func(o *Options) { o.Ratios = Ratios{Train: 1.1, Val: -0.1} }, "ratio train = 1.1"},
		{"negative val", func(o *Options) { o.Ratios = Ratios{Train: 0.9, Val: -0.1, Test: 0.2} }, "ratio val = -0.1"},
		{"NaN", func(o *Options) { o.Ratios.Test = math.NaN() }, "ratio test = NaN"},
		{"sum below 1", func(o *Options) { o.Ratios = Ratios{Train: 0.8, Val: 0.1} }, "ratios sum to 0.9"},
		{"no train", func(o *Options) { o.Ratios = Ratios{Val: 0.5, Test: 0.5} }, "ratio train = 0, want > 0"},
		{"zero batch", func(o *Options) { o.BatchSize = 0 }, "batch size 0"},
		{"negative limit", func(o *Options) { o.Limits.MaxRows = -1 }, "negative limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := ok
			tt.modify(&opts)
			_, err := Validate(context.Background(), strings.NewReader(genCSV(3, false)), opts)
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate() error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() error = %v, want ErrInvalidOptions containing %q", err, tt.want)
			}
		})
	}
}

// TestExactCounts checks round(n×ratio) rows per split for small and large
// n, in the manifest and in the shards.
func TestExactCounts(t *testing.T) {
	tests := []struct {
		n                     int
		ratios                Ratios
		train, val, testCount int
	}{
		{1, Ratios{0.8, 0.1, 0.1}, 1, 0, 0},
		{2, Ratios{0.8, 0.1, 0.1}, 2, 0, 0},
		{3, Ratios{0.8, 0.1, 0.1}, 3, 0, 0},
		{5, Ratios{0.8, 0.1, 0.1}, 3, 1, 1}, // 0.5 rounds up
		{10, Ratios{0.8, 0.1, 0.1}, 8, 1, 1},
		{1, Ratios{0.4, 0.5, 0.1}, 0, 1, 0},
		{2, Ratios{0.5, 0.25, 0.25}, 0, 1, 1},
		{3, Ratios{0.6, 0.2, 0.2}, 1, 1, 1},
		{3, Ratios{0.7, 0, 0.3}, 2, 0, 1},
		{10, Ratios{0.7, 0, 0.3}, 7, 0, 3},
		{7, Ratios{1, 0, 0}, 7, 0, 0},
		{100, Ratios{0.34, 0.33, 0.33}, 34, 33, 33},
		{1001, Ratios{0.8, 0.1, 0.1}, 801, 100, 100},
		{997, Ratios{0.6, 0.25, 0.15}, 598, 249, 150},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d/%v", tt.n, tt.ratios), func(t *testing.T) {
			for _, withID := range []bool{false, true} {
				opts := Options{Ratios: tt.ratios, Seed: 42, BatchSize: 7}
				w := &memWriter{}
				m, err := Ingest(context.Background(), stringSource(genCSV(tt.n, withID)), opts, w)
				if err != nil {
					t.Fatalf("Ingest() error: %v", err)
				}
				want := map[string]int{Train: tt.train, Val: tt.val, Test: tt.testCount}
				if diff := cmp.Diff(want, m.Counts); diff != "" {
					t.Errorf("withID=%v: Counts mismatch (-want +got):\n%s", withID, diff)
				}
				got := w.splitExamples(t, opts.BatchSize)
				for split, c := range want {
					if len(got[split]) != c {
						t.Errorf("withID=%v: %d %s examples in shards, want %d", withID, len(got[split]), split, c)
					}
					if b := (c + 6) / 7; m.Batches[split] != b {
						t.Errorf("withID=%v: Batches[%s] = %d, want %d", withID, split, m.Batches[split], b)
					}
				}
			}
		})
	}
}

func TestSplitDeterminism(t *testing.T) {
	csv := genCSV(300, true)
	run := func(seed int64, csv string) map[string]string {
		t.Helper()
		w := &memWriter{}
		opts := Options{Ratios: Ratios{0.6, 0.2, 0.2}, Seed: seed, BatchSize: 16}
		if _, err := Ingest(context.Background(), stringSource(csv), opts, w); err != nil {
			t.Fatal(err)
		}
		return splitOf(w.splitExamples(t, opts.BatchSize))
	}
	a := run(1, csv)
	if diff := cmp.Diff(a, run(1, csv)); diff != "" {
		t.Errorf("same seed, different split (-first +second):\n%s", diff)
	}
	b := run(2, csv)
	moved := 0
	for id, s := range a {
		if b[id] != s {
			moved++
		}
	}
	// Two independent 60/20/20 splits agree on ~44% of rows.
	if moved < 100 {
		t.Errorf("seeds 1 and 2 place only %d of 300 rows differently", moved)
	}

	// The split follows the ids, not the row order.
	lines := strings.Split(strings.TrimSuffix(csv, "\n"), "\n")
	body := lines[1:]
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(body), func(i, j int) { body[i], body[j] = body[j], body[i] })
	shuffled := lines[0] + "\n" + strings.Join(body, "\n") + "\n"
	if diff := cmp.Diff(a, run(1, shuffled)); diff != "" {
		t.Errorf("shuffled rows, different split (-original +shuffled):\n%s", diff)
	}
}

func TestExplicitSplitColumn(t *testing.T) {
	csv := "id,user_input,ground_truth_output,split\n" +
		"a,1,1,test\n" +
		"b,2,2,\n" +
		"c,3,3,Validation\n" +
		"d,4,4,\n" +
		"e,5,5,train\n" +
		"f,6,6,\n" +
		"g,7,7,TEST\n" +
		"h,8,8,\n"
	// 4 rows without a split, 0.5/0.25/0.25 → 2 train, 1 val, 1 test.
	opts := Options{Ratios: Ratios{0.5, 0.25, 0.25}, Seed: 3, BatchSize: 1}
	w := &memWriter{}
	m, err := Ingest(context.Background(), stringSource(csv), opts, w)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{Train: 3, Val: 2, Test: 3}, m.Counts); diff != "" {
		t.Errorf("Counts mismatch (-want +got):\n%s", diff)
	}
	if !m.HasSplitColumn {
		t.Errorf("HasSplitColumn = false")
	}
	got := splitOf(w.splitExamples(t, opts.BatchSize))
	for id, want := range map[string]string{"a": Test, "c": Val, "e": Train, "g": Test} {
		if got[id] != want {
			t.Errorf("row %s in %s, want %s as the file says", id, got[id], want)
		}
	}
	// The ratios apply to the rows without a split only.
	n := map[string]int{}
	for _, id := range []string{"b", "d", "f", "h"} {
		n[got[id]]++
	}
	if diff := cmp.Diff(map[string]int{Train: 2, Val: 1, Test: 1}, n); diff != "" {
		t.Errorf("unassigned rows per split mismatch (-want +got):\n%s", diff)
	}
}

func TestShardsAndBatchBoundaries(t *testing.T) {
	csv := "id,user_input,ground_truth_output,split\n"
	var wantTrain, wantTest []string
	for i := 1; i <= 10; i++ {
		split := Train
		if i%4 == 0 {
			split = Test
		}
		csv += fmt.Sprintf("r%d,in <%d> & more,out %d,%s\n", i, i, i, split)
		if split == Train {
			wantTrain = append(wantTrain, fmt.Sprintf("r%d", i))
		} else {
			wantTest = append(wantTest, fmt.Sprintf("r%d", i))
		}
	}
	opts := Options{Ratios: Ratios{Train: 1}, BatchSize: 3}
	w := &memWriter{}
	m, err := Ingest(context.Background(), stringSource(csv), opts, w)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{Train: 3, Val: 0, Test: 1}, m.Batches); diff != "" {
		t.Errorf("Batches mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"test/0", "train/0", "train/1", "train/2"}, sortedKeys(w.files)); diff != "" {
		t.Errorf("shards mismatch (-want +got):\n%s", diff)
	}
	// Batch k holds the split's rows [3k, 3k+3) in file order.
	got := w.splitExamples(t, opts.BatchSize)
	if diff := cmp.Diff(wantTrain, ids(got[Train])); diff != "" {
		t.Errorf("train ids mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantTest, ids(got[Test])); diff != "" {
		t.Errorf("test ids mismatch (-want +got):\n%s", diff)
	}
	// The wire format, byte for byte: one object per line, HTML not escaped.
	wantLines := `{"id":"r1","row":2,"user_input":"in <1> & more","ground_truth_output":"out 1"}` + "\n" +
		`{"id":"r2","row":3,"user_input":"in <2> & more","ground_truth_output":"out 2"}` + "\n" +
		`{"id":"r3","row":4,"user_input":"in <3> & more","ground_truth_output":"out 3"}` + "\n"
	if diff := cmp.Diff(wantLines, w.files["train/0"].String()); diff != "" {
		t.Errorf("train/0 mismatch (-want +got):\n%s", diff)
	}
}

func TestReadShard(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Example
		wantErr string
	}{
		{"empty", "", nil, ""},
		{"two lines", `{"id":"a","row":2,"user_input":"x","ground_truth_output":"y"}` + "\n" + `{"id":"b","row":5,"user_input":"line\nbreak","ground_truth_output":"z","extra":1}` + "\n",
			[]Example{{ID: "a", Row: 2, UserInput: "x", GroundTruth: "y"}, {ID: "b", Row: 5, UserInput: "line\nbreak", GroundTruth: "z"}}, ""},
		{"bad json", `{"id":"a"}` + "\n{oops\n", nil, "read shard: example 2:"},
		{"no id", `{"row":2,"user_input":"x"}`, nil, "read shard: example 1: no id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadShard(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ReadShard() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadShard() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSourceChanged(t *testing.T) {
	orig := genCSV(20, true)
	tests := []struct {
		name   string
		second string
	}{
		{"one byte differs", strings.Replace(orig, "output 7", "output 8", 1)},
		{"more rows", orig + "r21,input,output\n"},
		{"fewer rows", genCSV(19, true)},
		{"now invalid", strings.Replace(orig, "output 7", "", 1)},
		{"other header", strings.Replace(orig, "id,", "key,", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &memWriter{}
			src := &changingSource{texts: []string{orig, tt.second}}
			opts := Options{Ratios: Ratios{Train: 1}, BatchSize: 5}
			_, err := Ingest(context.Background(), src, opts, w)
			if !errors.Is(err, ErrSourceChanged) {
				t.Fatalf("Ingest() error = %v, want ErrSourceChanged", err)
			}
			var de *Error
			if errors.As(err, &de) {
				t.Errorf("Ingest() error %v is also an *Error; the user's file was valid", err)
			}
			if src.opens != 2 {
				t.Errorf("source opened %d times, want 2", src.opens)
			}
			for name, f := range w.files {
				if f.closes == 0 {
					t.Errorf("shard %s left open", name)
				}
			}
		})
	}
}

func TestAbortAbandonsOpenShards(t *testing.T) {
	// The change is in the last row, after shards were opened.
	orig := genCSV(4, true)
	src := &changingSource{texts: []string{orig, strings.Replace(orig, "output 4", "output X", 1)}}
	w := &memWriter{}
	_, err := Ingest(context.Background(), src, Options{Ratios: Ratios{Train: 1}, BatchSize: 3}, w)
	if !errors.Is(err, ErrSourceChanged) {
		t.Fatalf("Ingest() error = %v, want ErrSourceChanged", err)
	}
	if f := w.files["train/0"]; f == nil || !f.committed {
		t.Errorf("train/0 (full before the failure) not committed")
	}
	if f := w.files["train/1"]; f == nil || f.committed || f.closes != 1 {
		t.Errorf("train/1: %+v, want closed once with a cancelled context, not committed", f)
	}
}

func TestWriterFailures(t *testing.T) {
	tests := []struct {
		name string
		w    *memWriter
		want string
	}{
		{"create", &memWriter{failOn: "train/1"}, "create shard train/1: injected create failure for train/1"},
		{"close of a full batch", &memWriter{failClose: "train/0"}, "close shard train/0: injected close failure"},
		{"close at the end", &memWriter{failClose: "train/1"}, "close shard train/1: injected close failure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Ingest(context.Background(), stringSource(genCSV(5, false)), Options{Ratios: Ratios{Train: 1}, BatchSize: 3}, tt.w)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Ingest() error = %v, want %q", err, tt.want)
			}
		})
	}
}

type failingSource struct{ err error }

func (s failingSource) Open(context.Context) (io.ReadCloser, error) { return nil, s.err }

func TestSourceFailures(t *testing.T) {
	boom := errors.New("boom")
	_, err := Ingest(context.Background(), failingSource{boom}, allTrain, &memWriter{})
	if !errors.Is(err, boom) {
		t.Errorf("Ingest() with a failing Open: %v, want it to wrap %v", err, boom)
	}
	_, err = Validate(context.Background(), &errReader{data: genCSV(10, false), err: boom}, allTrain)
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "read dataset: ") {
		t.Errorf("Validate() with a failing reader: %v, want read dataset: ... %v", err, boom)
	}
	var de *Error
	if errors.As(err, &de) {
		t.Errorf("an I/O error is reported as the user's *Error: %v", err)
	}
}

func TestContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Ingest(ctx, stringSource(genCSV(10, false)), allTrain, &memWriter{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Ingest() error = %v, want context.Canceled", err)
	}
}

// errReader returns data, then err.
type errReader struct {
	data string
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestManifestMatchesValidate(t *testing.T) {
	csv := genCSV(57, true)
	opts := Options{Ratios: Ratios{0.7, 0.15, 0.15}, Seed: 9, BatchSize: 8}
	dry, err := Validate(context.Background(), bytes.NewReader([]byte(csv)), opts)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Ingest(context.Background(), stringSource(csv), opts, &memWriter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(dry, m); diff != "" {
		t.Errorf("Validate and Ingest manifests differ (-validate +ingest):\n%s", diff)
	}
	// sha256 of the bytes, as `sha256sum` would print it.
	if want := fmt.Sprintf("%x", sha256.Sum256([]byte(csv))); m.SHA256 != want {
		t.Errorf("SHA256 = %s, want %s", m.SHA256, want)
	}
}
