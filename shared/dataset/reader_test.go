package dataset

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var allTrain = Options{Ratios: Ratios{Train: 1}, Seed: 1, BatchSize: 100}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{"row and column", Error{Row: 12, Column: "ground_truth_output", Reason: "empty value"}, `row 12, column "ground_truth_output": empty value`},
		{"row only", Error{Row: 3, Reason: "has 3 fields, the header has 2"}, "row 3: has 3 fields, the header has 2"},
		{"column only", Error{Column: "id", Reason: "x"}, `column "id": x`},
		{"whole file", Error{Reason: "file is empty"}, "file is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestValidateErrors checks every rejection and its exact message.
func TestValidateErrors(t *testing.T) {
	const hdr = "user_input,ground_truth_output\n"
	tests := []struct {
		name   string
		csv    string
		limits Limits
		want   Error
	}{
		{"empty file", "", Limits{}, Error{Reason: "file is empty; the first line must be a header with the columns user_input and ground_truth_output"}},
		{"only a BOM", "\xEF\xBB\xBF", Limits{}, Error{Reason: "file is empty; the first line must be a header with the columns user_input and ground_truth_output"}},
		{"only blank lines", "\n\r\n\n", Limits{}, Error{Reason: "file is empty; the first line must be a header with the columns user_input and ground_truth_output"}},
		{"header only", hdr, Limits{}, Error{Reason: "no data rows: the file has only a header"}},
		{"header only, no newline", "user_input,ground_truth_output", Limits{}, Error{Reason: "no data rows: the file has only a header"}},
		{"header and blank lines", hdr + "\n\n", Limits{}, Error{Reason: "no data rows: the file has only a header"}},
		{"missing ground truth", "user_input,answer\nhi,there\n", Limits{}, Error{Row: 1, Column: "ground_truth_output", Reason: `missing required column; the header is "user_input", "answer"`}},
		{"missing user input", "question,ground_truth_output\nhi,there\n", Limits{}, Error{Row: 1, Column: "user_input", Reason: `missing required column: prompt.user uses {{user_input}}; the header is "question", "ground_truth_output"`}},
		{"semicolons", "user_input;ground_truth_output\nhi;there\n", Limits{}, Error{Row: 1, Column: "user_input", Reason: `missing required column: prompt.user uses {{user_input}}; the header is "user_input;ground_truth_output" (the file must be comma-separated)`}},
		{"old Mac line endings", "user_input,ground_truth_output\rhi,there\r", Limits{}, Error{Row: 1, Column: "ground_truth_output", Reason: `missing required column; the header is "user_input", "ground_truth_output\rhi", "there" (lines end with a lone carriage return; save the file with LF or CRLF line endings)`}},
		{"duplicate header", "user_input,ground_truth_output, User_Input \nhi,there,x\n", Limits{}, Error{Row: 1, Column: "User_Input", Reason: "duplicate column name (columns 1 and 3)"}},
		{"duplicate extra header", "notes,user_input,ground_truth_output,NOTES\n", Limits{}, Error{Row: 1, Column: "NOTES", Reason: "duplicate column name (columns 1 and 4)"}},
		{"UTF-16 LE", "\xFF\xFEu\x00s\x00", Limits{}, Error{Row: 1, Reason: "file is UTF-16; save it as UTF-8"}},
		{"UTF-16 BE", "\xFE\xFF\x00u\x00s", Limits{}, Error{Row: 1, Reason: "file is UTF-16; save it as UTF-8"}},
		{"UTF-16 without BOM", "u\x00s\x00e\x00r\x00\n\x00", Limits{}, Error{Row: 1, Reason: "header cell 1: NUL byte in the cell (is the file UTF-16? save it as UTF-8)"}},
		{"invalid UTF-8 in header", "user_input,ground_truth_output,caf\xE9\n", Limits{}, Error{Row: 1, Reason: "header cell 3: invalid UTF-8 at byte 4 of the cell; save the file as UTF-8"}},
		{"invalid UTF-8 in ground truth", hdr + "hi,salut\nCoffee,Caf\xE9\n", Limits{}, Error{Row: 3, Column: "ground_truth_output", Reason: "invalid UTF-8 at byte 4 of the cell; save the file as UTF-8"}},
		{"invalid UTF-8 in ignored column", "user_input,ground_truth_output,notes\nhi,there,\xC3(\n", Limits{}, Error{Row: 2, Column: "notes", Reason: "invalid UTF-8 at byte 1 of the cell; save the file as UTF-8"}},
		{"NUL in user input", hdr + "h\x00i,there\n", Limits{}, Error{Row: 2, Column: "user_input", Reason: "NUL byte in the cell (is the file UTF-16? save it as UTF-8)"}},
		{"NUL in unnamed column", "user_input,ground_truth_output,\nhi,there,\x00\n", Limits{}, Error{Row: 2, Column: "#3", Reason: "NUL byte in the cell (is the file UTF-16? save it as UTF-8)"}},
		{"too many fields", hdr + "a,b\nc,d,e\n", Limits{}, Error{Row: 3, Reason: "has 3 fields, the header has 2"}},
		{"too few fields", hdr + "a,b\nc\n", Limits{}, Error{Row: 3, Reason: "has 1 fields, the header has 2"}},
		{"empty user input", hdr + ",there\n", Limits{}, Error{Row: 2, Column: "user_input", Reason: "empty value"}},
		{"empty ground truth", hdr + "a,b\nhi,\n", Limits{}, Error{Row: 3, Column: "ground_truth_output", Reason: "empty value"}},
		{"blank ground truth", hdr + "hi,\" \t\"\n", Limits{}, Error{Row: 2, Column: "ground_truth_output", Reason: "empty value"}},
		{"empty row", hdr + "a,b\n,\n", Limits{}, Error{Row: 3, Column: "user_input", Reason: "empty value"}},
		{"empty id", "id,user_input,ground_truth_output\n1,a,b\n  ,c,d\n", Limits{}, Error{Row: 3, Column: "id", Reason: "empty value"}},
		{"duplicate id", "id,user_input,ground_truth_output\nx,a,b\ny,c,d\nx,e,f\n", Limits{}, Error{Row: 4, Column: "id", Reason: "duplicate id; row 2 has the same id"}},
		{"earliest duplicate of several", "id,user_input,ground_truth_output\na,1,1\nb,2,2\nc,3,3\nc,4,4\nb,5,5\na,6,6\nc,7,7\n", Limits{}, Error{Row: 5, Column: "id", Reason: "duplicate id; row 4 has the same id"}},
		{"duplicate id reported after row errors", "id,user_input,ground_truth_output\na,1,1\na,2,2\nb,,3\n", Limits{}, Error{Row: 4, Column: "user_input", Reason: "empty value"}},
		{"duplicate id with explicit splits", "id,user_input,ground_truth_output,split\na,1,1,train\nb,2,2,\na,3,3,test\n", Limits{}, Error{Row: 4, Column: "id", Reason: "duplicate id; row 2 has the same id"}},
		{"duplicate id after trimming", "id,user_input,ground_truth_output\nx,a,b\n x ,c,d\n", Limits{}, Error{Row: 3, Column: "id", Reason: "duplicate id; row 2 has the same id"}},
		{"unknown split", "user_input,ground_truth_output,split\na,b,train\nc,d,training\n", Limits{}, Error{Row: 3, Column: "split", Reason: `unknown split "training"; use train, val or test, or leave it empty to assign by seed`}},
		{"bare quote", hdr + "a,b\nsay \"hi\",salut\n", Limits{}, Error{Row: 3, Reason: `line 3, column 5: bare " in non-quoted-field (a cell with quotes, commas or line breaks must be quoted, with its quotes doubled)`}},
		{"quote after quoted cell", hdr + "\"a\"b,c\n", Limits{}, Error{Row: 2, Reason: `line 2, column 3: extraneous or missing " in quoted-field (a cell with quotes, commas or line breaks must be quoted, with its quotes doubled)`}},
		{"unterminated quote", hdr + "a,b\n\"never closed,x\ny,z\n", Limits{}, Error{Row: 3, Reason: `line 4, column 5 (the row starts on line 3): extraneous or missing " in quoted-field (a cell with quotes, commas or line breaks must be quoted, with its quotes doubled)`}},
		{"row counts records, not lines", hdr + "\"two\nlines\",b\n\nc,d\ne,\n", Limits{}, Error{Row: 4, Column: "ground_truth_output", Reason: "empty value"}},
		{"max bytes", hdr + "a,b\n", Limits{MaxBytes: 10}, Error{Reason: "file is larger than the limit of 10 bytes (MaxBytes)"}},
		{"max rows", hdr + "a,b\nc,d\ne,f\n", Limits{MaxRows: 2}, Error{Row: 4, Reason: "more than 2 data rows, the limit (MaxRows)"}},
		{"max cell bytes", hdr + "a,b\nabcdefghijklmnopqrst,b\n", Limits{MaxCellBytes: 19}, Error{Row: 3, Column: "user_input", Reason: "cell is 20 bytes, over the limit of 19 (MaxCellBytes)"}},
		{"max cell bytes in header", "user_input,ground_truth_output\n", Limits{MaxCellBytes: 12}, Error{Row: 1, Reason: "header cell 2: cell is 19 bytes, over the limit of 12 (MaxCellBytes)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := allTrain
			opts.Limits = tt.limits
			m, err := Validate(context.Background(), strings.NewReader(tt.csv), opts)
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("Validate() = %+v, %v; want *Error %q", m, err, tt.want.Error())
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("Validate() error mismatch (-want +got):\n%s", diff)
			}
			// Ingest reports the same error and writes nothing.
			w := &memWriter{}
			_, err = Ingest(context.Background(), stringSource(tt.csv), opts, w)
			if !errors.As(err, &got) || *got != tt.want {
				t.Errorf("Ingest() error = %v, want %v", err, &tt.want)
			}
			if len(w.files) != 0 {
				t.Errorf("Ingest() created shards %v for an invalid file", sortedKeys(w.files))
			}
		})
	}
}

func TestLimitsAtTheEdge(t *testing.T) {
	csv := "user_input,ground_truth_output\nabc,d\nef,g\n" // 43 bytes, 2 rows, largest data cell 3 bytes
	lim := Limits{MaxBytes: int64(len(csv)), MaxRows: 2, MaxCellBytes: len("ground_truth_output")}
	opts := allTrain
	opts.Limits = lim
	if _, err := Validate(context.Background(), strings.NewReader(csv), opts); err != nil {
		t.Errorf("Validate() at exactly the limits: %v", err)
	}
	opts.Limits.MaxBytes--
	if _, err := Validate(context.Background(), strings.NewReader(csv), opts); err == nil {
		t.Errorf("Validate() one byte over MaxBytes: no error")
	}
}

// TestIngestParsing checks how cells and rows come out of the file.
func TestIngestParsing(t *testing.T) {
	tests := []struct {
		name    string
		csv     string
		want    []Example
		ignored []string
	}{
		{
			name: "no id column: ids are data row numbers",
			csv:  "user_input,ground_truth_output\nHello,Bonjour\nBye,Au revoir\n",
			want: []Example{{ID: "1", Row: 2, UserInput: "Hello", GroundTruth: "Bonjour"}, {ID: "2", Row: 3, UserInput: "Bye", GroundTruth: "Au revoir"}},
		},
		{
			name: "header trimmed and case-insensitive, columns in any order",
			csv:  " Ground_Truth_Output ,ID, USER_INPUT\nBonjour,a,Hello\n",
			want: []Example{{ID: "a", Row: 2, UserInput: "Hello", GroundTruth: "Bonjour"}},
		},
		{
			name: "cells kept as is, ids trimmed",
			csv:  "id,user_input,ground_truth_output\n  x1 ,  Hello  ,\" Bonjour \"\n",
			want: []Example{{ID: "x1", Row: 2, UserInput: "  Hello  ", GroundTruth: " Bonjour "}},
		},
		{
			name: "quoting: escaped quotes, commas, newlines",
			csv:  "user_input,ground_truth_output\n\"Say \"\"hi\"\", then go\",\"line 1\nline 2\"\nnext,row\n",
			want: []Example{{ID: "1", Row: 2, UserInput: `Say "hi", then go`, GroundTruth: "line 1\nline 2"}, {ID: "2", Row: 3, UserInput: "next", GroundTruth: "row"}},
		},
		{
			name: "CRLF, also inside quotes (normalized to LF), no final newline",
			csv:  "user_input,ground_truth_output\r\n\"a\r\nb\",c\r\nd,e",
			want: []Example{{ID: "1", Row: 2, UserInput: "a\nb", GroundTruth: "c"}, {ID: "2", Row: 3, UserInput: "d", GroundTruth: "e"}},
		},
		{
			name: "BOM stripped",
			csv:  "\xEF\xBB\xBFuser_input,ground_truth_output\nx,y\n",
			want: []Example{{ID: "1", Row: 2, UserInput: "x", GroundTruth: "y"}},
		},
		{
			name: "blank lines skipped and not counted",
			csv:  "user_input,ground_truth_output\n\nx,y\n\n\nz,w\n\n",
			want: []Example{{ID: "1", Row: 2, UserInput: "x", GroundTruth: "y"}, {ID: "2", Row: 3, UserInput: "z", GroundTruth: "w"}},
		},
		{
			name:    "extra columns kept as variables, unnamed ones dropped",
			csv:     "notes,user_input,ground_truth_output,,Score\nn,x,y,,5\n",
			want:    []Example{{ID: "1", Row: 2, UserInput: "x", GroundTruth: "y", Vars: map[string]string{"notes": "n", "Score": "5"}}},
			ignored: []string{"notes", "Score"},
		},
		{
			name: "non-ASCII and HTML-ish text",
			csv:  "user_input,ground_truth_output\n<b>Tschüss</b> & 👋,Au revoir — à bientôt\n",
			want: []Example{{ID: "1", Row: 2, UserInput: "<b>Tschüss</b> & 👋", GroundTruth: "Au revoir — à bientôt"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &memWriter{}
			m, err := Ingest(context.Background(), stringSource(tt.csv), allTrain, w)
			if err != nil {
				t.Fatalf("Ingest() error: %v", err)
			}
			got := w.splitExamples(t, allTrain.BatchSize)
			if diff := cmp.Diff(map[string][]Example{Train: tt.want}, got); diff != "" {
				t.Errorf("examples mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.ignored, m.IgnoredColumns); diff != "" {
				t.Errorf("IgnoredColumns mismatch (-want +got):\n%s", diff)
			}
			if m.Bytes != int64(len(tt.csv)) || m.Rows != len(tt.want) {
				t.Errorf("manifest Bytes, Rows = %d, %d; want %d, %d", m.Bytes, m.Rows, len(tt.csv), len(tt.want))
			}
		})
	}
}

// TestTestdata runs the files under testdata, as saved by real tools.
func TestTestdata(t *testing.T) {
	opts := Options{Ratios: Ratios{Train: 0.5, Val: 0.25, Test: 0.25}, Seed: 7, BatchSize: 2}
	tests := []struct {
		file    string
		want    *Manifest // nil when wantErr is set
		wantErr *Error
	}{
		{
			file: "excel_bom_crlf.csv",
			want: &Manifest{
				SHA256: "", Bytes: 158, Rows: 3,
				Counts:         map[string]int{Train: 1, Val: 1, Test: 1},
				Batches:        map[string]int{Train: 1, Val: 1, Test: 1},
				Variables:      []string{"user_input", "notes"},
				UnusedColumns:  []string{"notes"},
				IgnoredColumns: []string{"notes"},
			},
		},
		{
			file: "split_column.csv",
			want: &Manifest{
				SHA256: "", Bytes: 173, Rows: 8,
				// Explicit: train a; val b, e, g; test c. By seed: d, f, h → 2 train,
				// round(0.75)=1 val, round(0.75)=1 test.
				Counts:         map[string]int{Train: 2, Val: 4, Test: 2},
				Batches:        map[string]int{Train: 1, Val: 2, Test: 1},
				Variables:      []string{"user_input"},
				HasSplitColumn: true,
			},
		},
		{file: "utf16le.csv", wantErr: &Error{Row: 1, Reason: "file is UTF-16; save it as UTF-8"}},
		{file: "latin1.csv", wantErr: &Error{Row: 2, Column: "ground_truth_output", Reason: "invalid UTF-8 at byte 4 of the cell; save the file as UTF-8"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, err := Validate(context.Background(), f, opts)
			if tt.wantErr != nil {
				var got *Error
				if !errors.As(err, &got) {
					t.Fatalf("Validate() error = %v, want %v", err, tt.wantErr)
				}
				if diff := cmp.Diff(tt.wantErr, got); diff != "" {
					t.Errorf("error mismatch (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() error: %v", err)
			}
			if len(m.SHA256) != 64 {
				t.Errorf("SHA256 = %q, want 64 hex digits", m.SHA256)
			}
			m.SHA256 = ""
			if diff := cmp.Diff(tt.want, m); diff != "" {
				t.Errorf("manifest mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExcelFileContents(t *testing.T) {
	data, err := os.ReadFile("testdata/excel_bom_crlf.csv")
	if err != nil {
		t.Fatal(err)
	}
	w := &memWriter{}
	opts := allTrain
	if _, err := Ingest(context.Background(), stringSource(data), opts, w); err != nil {
		t.Fatal(err)
	}
	want := []Example{
		{ID: "q1", Row: 2, UserInput: `Say "hi"`, GroundTruth: "Bonjour", Vars: map[string]string{"notes": "first"}},
		{ID: "q2", Row: 3, UserInput: "Line one\nline two", GroundTruth: "a, b", Vars: map[string]string{"notes": ""}},
		{ID: "q3", Row: 4, UserInput: " leading space kept ", GroundTruth: "trailing space kept ", Vars: map[string]string{"notes": "x"}},
	}
	if diff := cmp.Diff(map[string][]Example{Train: want}, w.splitExamples(t, opts.BatchSize)); diff != "" {
		t.Errorf("examples mismatch (-want +got):\n%s", diff)
	}
}

func TestParseSplit(t *testing.T) {
	tests := []struct {
		in     string
		want   int
		wantOK bool
	}{
		{"", -1, true}, {"  ", -1, true},
		{"train", idxTrain, true}, {" TRAIN ", idxTrain, true},
		{"val", idxVal, true}, {"Validation", idxVal, true}, {"valid", idxVal, true}, {"DEV", idxVal, true},
		{"test", idxTest, true}, {"Test\t", idxTest, true},
		{"training", 0, false}, {"eval", 0, false}, {"holdout", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseSplit(tt.in)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseSplit(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestSamples keeps the datasets shipped under samples/ valid.
func TestSamples(t *testing.T) {
	files, err := filepath.Glob("../../samples/*.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no samples")
	}
	opts := Options{Ratios: Ratios{0.8, 0.1, 0.1}, Seed: 1, BatchSize: 10}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, err := Validate(context.Background(), f, opts)
			if err != nil {
				t.Fatalf("Validate() error: %v", err)
			}
			if len(m.IgnoredColumns) != 0 || m.Counts[Train] == 0 {
				t.Errorf("manifest %+v: want no ignored columns and some train rows", m)
			}
		})
	}
}
