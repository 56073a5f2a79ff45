package pipeline_test

import (
	"encoding/base32"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/promptml/promptml/shared/pipeline"
)

// TestRunIDsUnguessable: a run id encodes 128 random bits (26 base32
// characters, the last carrying 3 bits of padding), every draw differs,
// every character position takes many values, and the ids come from
// crypto/rand: this package imports no math/rand outside its tests.
func TestRunIDsUnguessable(t *testing.T) {
	const n = 20000
	seen := make(map[string]bool, n)
	perPos := make([]map[byte]bool, 26)
	for i := range perPos {
		perPos[i] = map[byte]bool{}
	}
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	for range n {
		id := pipeline.NewRunID()
		if len(id) != 26 {
			t.Fatalf("run id %q has %d characters, want 26", id, len(id))
		}
		raw, err := enc.DecodeString(strings.ToUpper(id))
		if err != nil || len(raw) != 16 {
			t.Fatalf("run id %q does not decode to 16 bytes (%v)", id, err)
		}
		if seen[id] {
			t.Fatalf("run id %q drawn twice in %d", id, n)
		}
		seen[id] = true
		for i := range id {
			perPos[i][id[i]] = true
		}
	}
	// 25 positions carry 5 random bits (32 values), the last 3 (8 values).
	for i, vals := range perPos {
		want := 32
		if i == 25 {
			want = 8
		}
		if len(vals) != want {
			t.Errorf("position %d took %d distinct values in %d ids, want %d", i, len(vals), n, want)
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		pf, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pf.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "math/rand" || p == "math/rand/v2" {
				t.Errorf("%s imports %s: ids and names must come from crypto/rand", f, p)
			}
		}
	}
}
