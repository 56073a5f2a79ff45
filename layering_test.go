package promptml

import (
	"go/build"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/promptml/promptml/"

// TestLayering checks the directions the design relies on (CONTRIBUTING.md,
// "Layout"): the run configuration is a contract that the metrics and the
// providers implement, so it depends on neither; the two registries it
// validates against are leaves. Only the packages' own (non-test) imports
// count, transitively, as `go list -deps` lists them.
func TestLayering(t *testing.T) {
	tests := []struct {
		pkg string
		// never lists packages pkg must not depend on; only, when set, is
		// all it may depend on within the module.
		never, only []string
	}{
		{pkg: "shared/config", never: []string{"shared/eval", "shared/llm/vertex", "shared/llm/openai", "shared/llm/sim", "shared/pipeline", "shared/store"}},
		{pkg: "shared/metric", only: []string{}},
		{pkg: "shared/llm/provider", only: []string{"shared/llm", "shared/logging"}},
		{pkg: "shared/eval", never: []string{"shared/config", "shared/llm/vertex"}},
		// The simulated optimizer knows only its request (issue 19); the
		// simulator does not import the optimizer request's package (14).
		{pkg: "shared/llm/sim/optimizer", only: []string{"shared/llm", "shared/logging"}},
		{pkg: "shared/llm/sim", never: []string{"shared/optimize"}},
		{pkg: "shared/template", only: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			deps := moduleDeps(t, tt.pkg)
			for _, n := range tt.never {
				if slices.Contains(deps, n) {
					t.Errorf("%s depends on %s", tt.pkg, n)
				}
			}
			if tt.only != nil {
				for _, d := range deps {
					if !slices.Contains(tt.only, d) {
						t.Errorf("%s depends on %s; it may depend on %v only", tt.pkg, d, tt.only)
					}
				}
			}
		})
	}
}

// moduleDeps lists the module's packages that pkg (a directory) imports,
// directly or not, sorted.
func moduleDeps(t *testing.T, pkg string) []string {
	t.Helper()
	seen := map[string]bool{}
	var walk func(dir string)
	walk = func(dir string) {
		p, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, imp := range p.Imports {
			d, ok := strings.CutPrefix(imp, module)
			if !ok || seen[d] {
				continue
			}
			seen[d] = true
			walk(d)
		}
	}
	walk(pkg)
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}
