package promptdiff

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/store"
)

func TestUnified(t *testing.T) {
	a := &store.Prompt{ID: "p000000000001", System: "You are a helpful assistant.", Output: "Answer the request."}
	b := &store.Prompt{ID: "p000000000002", System: "You are a helpful assistant.", Output: "Answer the request.\nDo not explain.",
		Examples: []store.Demo{{Input: "hi", Output: "salut"}}}
	tests := []struct {
		name     string
		a, b     *store.Prompt
		contains []string
		empty    bool
	}{
		{name: "same", a: a, b: a, empty: true},
		{name: "added line and example", a: a, b: b, contains: []string{
			"--- p000000000001", "+++ p000000000002", "+Do not explain.", "+## example 1 input", "+hi", " ## output prompt"}},
		{name: "from nothing", a: nil, b: a, contains: []string{"--- (none)", "+You are a helpful assistant."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Unified(tc.a, tc.b)
			if tc.empty != (d == "") {
				t.Fatalf("diff = %q, empty want %v", d, tc.empty)
			}
			for _, c := range tc.contains {
				if !strings.Contains(d, c) {
					t.Errorf("diff lacks %q:\n%s", c, d)
				}
			}
		})
	}
}

func TestLines(t *testing.T) {
	got := Lines("--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n z\n")
	want := []Line{{"file", "--- a"}, {"file", "+++ b"}, {"hunk", "@@ -1 +1 @@"}, {"del", "-x"}, {"add", "+y"}, {"ctx", " z"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
	if got := Lines(""); len(got) != 0 {
		t.Errorf("Lines(\"\") = %v, want none", got)
	}
}
