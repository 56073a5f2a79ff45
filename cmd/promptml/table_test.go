package main

import (
	"strings"
	"testing"
)

func TestPrintEpochTable(t *testing.T) {
	v := 0.25
	var b strings.Builder
	printEpochTable(&b, []EpochRow{
		{Epoch: 1, CandidateVal: &v, Decision: "accepted", Accepted: true},
		{Epoch: 2, CandidateVal: &v, Decision: "rejected"},
		{Epoch: 3}, // cancelled before the gate decided
	})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	tests := []struct {
		line int
		want string
	}{
		{1, "0.250          yes"},
		{2, "no (rejected)"},
		{3, "-              -"},
	}
	for _, tc := range tests {
		if !strings.HasSuffix(lines[tc.line], tc.want) {
			t.Errorf("line %q, want it to end in %q", lines[tc.line], tc.want)
		}
	}
	if strings.Contains(b.String(), "()") {
		t.Errorf("empty decision printed as ():\n%s", &b)
	}
}

func TestPValue(t *testing.T) {
	for p, want := range map[float64]string{6.1e-05: "<0.001", 0.031: "0.031", 0.0005: "0.001", 1: "1.000"} {
		if got := pvalue(p); got != want {
			t.Errorf("pvalue(%g) = %q, want %q", p, got, want)
		}
	}
}
