package promptml

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestArchitecturePackageTable checks docs/architecture.md's package table
// against the tree: every directory holding Go files is listed, and every
// directory the table lists exists. The table is the map a new engineer
// reads first; a package it does not name is one nobody can find.
func TestArchitecturePackageTable(t *testing.T) {
	doc, err := os.ReadFile("docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := listedDirs(t, string(doc))
	var missing []string
	for d := range listed {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			missing = append(missing, d)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("docs/architecture.md lists directories that do not exist: %s", strings.Join(missing, ", "))
	}
	var unlisted []string
	for _, d := range goDirs(t) {
		if !listed[d] {
			unlisted = append(unlisted, d)
		}
	}
	if diff := cmp.Diff([]string(nil), unlisted); diff != "" {
		t.Errorf("Go package directories missing from docs/architecture.md's package table (-want +got):\n%s", diff)
	}
}

// listedDirs reads the first column of the "## Packages" table: entries
// written `dir/` (one or several per cell).
func listedDirs(t *testing.T, doc string) map[string]bool {
	t.Helper()
	_, after, ok := strings.Cut(doc, "\n## Packages\n")
	if !ok {
		t.Fatal(`docs/architecture.md has no "## Packages" section`)
	}
	section, _, _ := strings.Cut(after, "\n## ")
	cell := regexp.MustCompile("`([^`]+/)`")
	out := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		first := strings.SplitN(line, "|", 3)[1]
		for _, m := range cell.FindAllStringSubmatch(first, -1) {
			out[strings.TrimSuffix(m[1], "/")] = true
		}
	}
	if len(out) == 0 {
		t.Fatal("the package table lists no directory")
	}
	return out
}

// goDirs lists the directories of this module holding .go files, except
// testdata, hidden and vendored directories and nested modules.
func goDirs(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || name == "vendor") {
				return filepath.SkipDir
			}
			if path != "." {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // a module of its own (bench/promptfoo)
				}
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && filepath.Dir(path) != "." {
			seen[filepath.ToSlash(filepath.Dir(path))] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}
