package sim

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/promptml/promptml/shared/llm/sim/optimizer"
)

const module = "github.com/promptml/promptml/"

// parseDir parses the non-test Go files of dir (relative to this
// package's directory).
func parseDir(t *testing.T, dir string, mode parser.Mode) []*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	fset := token.NewFileSet()
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, mode)
		if err != nil {
			t.Fatalf("parse %s: %v", n, err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatalf("no Go files in %s", dir)
	}
	return files
}

// moduleRoot is the directory of go.mod, found upwards from here.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// moduleImports lists the module's packages that the package in dir (a
// path inside the module) imports, directly or not, from non-test files.
func moduleImports(t *testing.T, root, pkg string) []string {
	t.Helper()
	seen := map[string]bool{}
	var walk func(pkg string)
	walk = func(pkg string) {
		for _, f := range parseDir(t, filepath.Join(root, pkg), parser.ImportsOnly) {
			for _, imp := range f.Imports {
				p, err := strconv.Unquote(imp.Path.Value)
				if err != nil {
					t.Fatal(err)
				}
				d, ok := strings.CutPrefix(p, module)
				if !ok || seen[d] {
					continue
				}
				seen[d] = true
				walk(d)
			}
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

// stringLiterals returns the values of the string literals of files.
func stringLiterals(t *testing.T, files []*ast.File) []string {
	t.Helper()
	var out []string
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if b, ok := n.(*ast.BasicLit); ok && b.Kind == token.STRING {
				v, err := strconv.Unquote(b.Value)
				if err != nil {
					t.Fatalf("literal %s: %v", b.Value, err)
				}
				out = append(out, v)
			}
			return true
		})
	}
	return out
}

// TestModelsAreSeparate enforces issue 19's "two models with separate
// knowledge": the optimizer imports nothing of the module but shared/llm
// (so neither the primary nor shared/optimize, whose wire format it parses
// itself), and it holds no entry of the primary's tables (its habit
// triggers, preambles, explanations, openers and closers). The optimizer's
// wordings are its own English; some contain a short trigger phrase as a
// substring ("nothing else"), as any two writers of instructions would,
// and the test logs how many, without failing on it: whether a wording
// works is for the training loop to find.
func TestModelsAreSeparate(t *testing.T) {
	root := moduleRoot(t)
	const opt = "shared/llm/sim/optimizer"
	t.Run("imports", func(t *testing.T) {
		var direct []string
		for _, f := range parseDir(t, filepath.Join(root, opt), parser.ImportsOnly) {
			for _, imp := range f.Imports {
				if p, _ := strconv.Unquote(imp.Path.Value); strings.HasPrefix(p, module) {
					direct = append(direct, strings.TrimPrefix(p, module))
				}
			}
		}
		for _, d := range direct {
			if d != "shared/llm" {
				t.Errorf("%s imports %s; of the module it may import shared/llm only", opt, d)
			}
		}
		for _, d := range moduleImports(t, root, opt) {
			if strings.HasPrefix(d, "shared/llm/sim") || d == "shared/optimize" {
				t.Errorf("%s depends on %s", opt, d)
			}
		}
		// The simulator as a whole no longer depends on the optimizer
		// request's package (issue 14).
		if d := moduleImports(t, root, "shared/llm/sim"); slices.Contains(d, "shared/optimize") {
			t.Errorf("shared/llm/sim depends on shared/optimize: %v", d)
		}
	})
	t.Run("no shared table", func(t *testing.T) {
		var primary, habits []string
		for _, name := range []string{"habit.go", "diagnose.go"} {
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, "shared/llm/sim/primary", name), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			lits := stringLiterals(t, []*ast.File{f})
			primary = append(primary, lits...)
			if name == "habit.go" {
				habits = lits
			}
		}
		if len(primary) < 50 {
			t.Fatalf("read %d literals from the primary's tables; the test no longer finds them", len(primary))
		}
		table := map[string]bool{}
		for _, s := range primary {
			if len([]rune(s)) >= 8 {
				table[strings.ToLower(s)] = true
			}
		}
		for _, s := range stringLiterals(t, parseDir(t, filepath.Join(root, opt), 0)) {
			if table[strings.ToLower(s)] {
				t.Errorf("the optimizer's source holds %q, an entry of the primary's tables", s)
			}
		}
		var overlap []string
		book := optimizer.Phrasebook()
		for _, w := range book {
			for _, s := range habits {
				if len([]rune(s)) >= 8 && strings.Contains(strings.ToLower(w), strings.ToLower(s)) {
					overlap = append(overlap, fmt.Sprintf("%q ⊃ %q", w, s))
					break
				}
			}
		}
		t.Logf("%d of %d optimizer wordings contain an entry of the primary's habit tables (8+ characters) as a substring:\n%s",
			len(overlap), len(book), strings.Join(overlap, "\n"))
	})
}
