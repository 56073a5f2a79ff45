package blob

import (
	"path"
	"regexp"
	"strings"
	"testing"
)

// traversalInputs are names a hostile caller may send where an object name
// or a part of one is expected.
var traversalInputs = []string{
	"../x.csv", "../../artifacts/runs/r/export/system.txt", "a/../../b.csv", "/etc/passwd", "//x.csv",
	"%2e%2e/x.csv", "%2E%2e/x.csv", ".%2e/x.csv", "a/%2e/b.csv", "..%2fx.csv", `..\x.csv`, `C:\Windows\x.csv`,
	"a\x00.csv", "a\r\nb.csv", "\xff\xfe.csv", "a/./b.csv", ".", "..", "",
}

// TestParseURITraversal: a gs:// URI from a user never yields an object
// name that leaves the folder it names or is not a plain name.
func TestParseURITraversal(t *testing.T) {
	for _, in := range traversalInputs {
		uri := "gs://datasets/" + in
		t.Run(uri, func(t *testing.T) {
			_, name, err := ParseURI(uri)
			if err == nil && !safeObjectName(name) {
				t.Errorf("ParseURI(%q) accepted the name %q", uri, name)
			}
			if err == nil && in != "..%2fx.csv" {
				// Only "..%2fx.csv" is a plain name among these: one
				// literal segment (names are not URL-decoded into paths).
				t.Errorf("ParseURI(%q) = %q, nil; want an error", uri, name)
			}
		})
	}
	if _, _, err := ParseURI("gs://datasets/" + strings.Repeat("a", 1025)); err == nil {
		t.Error("ParseURI accepted a 1025-byte object name")
	}
}

// TestCleanNameTraversal: upload file names are reduced to one plain
// segment whatever they hold.
func TestCleanNameTraversal(t *testing.T) {
	for _, in := range traversalInputs {
		got := CleanName(in)
		if !cleanNamePattern.MatchString(strings.ToLower(got)) {
			t.Errorf("CleanName(%q) = %q, want one plain segment ending in .csv", in, got)
		}
	}
}

// TestPathsStayUnderTheRun: the artifact paths built from a run id keep
// every part literal, so even a hostile file name stays under the run's
// prefix (object names are flat: nothing resolves "..").
func TestPathsStayUnderTheRun(t *testing.T) {
	for _, in := range traversalInputs {
		if p := ExportPath("r1", in); !strings.HasPrefix(p, "runs/r1/export/") || p != "runs/r1/export/"+in {
			t.Errorf("ExportPath(r1, %q) = %q, want the name appended literally", in, p)
		}
	}
}

// cleanNamePattern matches a CleanName result, lower-cased.
var cleanNamePattern = regexp.MustCompile(`^[a-z0-9_][a-z0-9._-]*\.csv$`)

// safeObjectName reports whether name, put under a folder, stays in it.
func safeObjectName(name string) bool {
	if strings.HasPrefix(name, "/") || strings.ContainsAny(name, "\\\x00\r\n") {
		return false
	}
	return strings.HasPrefix(path.Join("folder", name), "folder/")
}

// FuzzObjectNames: whatever a user sends as a gs:// URI or a file name,
// ParseURI either refuses it or returns a name that stays inside its
// folder, and CleanName returns one plain segment ending in .csv.
func FuzzObjectNames(f *testing.F) {
	for _, in := range traversalInputs {
		f.Add(in)
	}
	f.Add("data.csv")
	f.Add("a/b/c.csv")
	f.Add("dir/")
	f.Fuzz(func(t *testing.T, s string) {
		if _, name, err := ParseURI("gs://datasets/" + s); err == nil {
			if !safeObjectName(name) {
				t.Fatalf("ParseURI accepted the name %q", name)
			}
			for _, seg := range strings.Split(name, "/") {
				if seg == "." || seg == ".." {
					t.Fatalf("ParseURI accepted a dot segment in %q", name)
				}
			}
		}
		if got := CleanName(s); !cleanNamePattern.MatchString(strings.ToLower(got)) {
			t.Fatalf("CleanName(%q) = %q", s, got)
		}
	})
}
