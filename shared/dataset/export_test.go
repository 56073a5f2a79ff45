package dataset

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSafeCell(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"hyperlink", `=HYPERLINK("http://evil.example","x")`, `'=HYPERLINK("http://evil.example","x")`},
		{"plus formula", "+SUM(A1:A9)", "'+SUM(A1:A9)"},
		{"minus formula", "-2+3", "'-2+3"},
		{"at", "@cmd", "'@cmd"},
		{"dde", `=cmd|' /C calc'!A0`, `'=cmd|' /C calc'!A0`},
		{"tab", "\t=1", "'\t=1"},
		{"carriage return", "\r=1", "'\r=1"},
		{"full-width equals", "＝1+1", "'＝1+1"},
		{"negative number", "-0.5", "-0.5"},
		{"positive number", "+3", "+3"},
		{"plain text", "Bonjour", "Bonjour"},
		{"equals inside", "a=b", "a=b"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SafeCell(tt.in); got != tt.want {
				t.Errorf("SafeCell(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestCSVWriterNeutralizes: what a CSVWriter writes reads back, through
// encoding/csv, as the neutralized cells.
func TestCSVWriterNeutralizes(t *testing.T) {
	var b bytes.Buffer
	w := NewCSVWriter(&b)
	recs := [][]string{{"row", "explanation"}, {"1", `=HYPERLINK("x")`}, {"2", "-1"}, {"3", "@SUM(1)"}}
	if err := w.WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	got, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"row", "explanation"}, {"1", `'=HYPERLINK("x")`}, {"2", "-1"}, {"3", "'@SUM(1)"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
}
