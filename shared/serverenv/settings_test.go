package serverenv

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// docRow is a row of docs/config.md's table of instance settings, its
// first four columns.
type docRow struct{ Name, Key, Type, Default string }

// TestSettingsTable: every Config field is exactly one setting, and
// docs/config.md's table lists every setting with its file key, type and
// default as the table has them, in the same order.
func TestSettingsTable(t *testing.T) {
	var c Config
	rows := c.settings()
	keys := map[uintptr]string{} // field address → yaml key
	v := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		keys[v.Field(i).Addr().Pointer()] = key
	}
	var z Config // for "required": the check of a zero value says so
	zeros := z.settings()
	var want []docRow
	seen := map[uintptr]bool{}
	for i, s := range rows {
		p := reflect.ValueOf(s.val.dst).Pointer()
		key, ok := keys[p]
		if !ok {
			t.Fatalf("setting %s parses into no field of the Config", s.name)
		}
		if seen[p] {
			t.Errorf("setting %s parses into the field of another setting (%s)", s.name, key)
		}
		seen[p] = true
		def := "`" + s.def + "`"
		if s.def == "" {
			def = "`\"\"`"
			if zeros[i].check != nil && zeros[i].check() == "is required" {
				def = "—"
			}
		}
		want = append(want, docRow{"`" + s.name + "`", "`" + key + "`", s.val.kind, def})
	}
	if len(seen) != len(keys) {
		for p, key := range keys {
			if !seen[p] {
				t.Errorf("Config field %s has no setting (a row of settings)", key)
			}
		}
	}
	want = append(want, docRow{"`" + configFile + "`", "—", "path", "—"})
	if diff := cmp.Diff(want, docTable(t)); diff != "" {
		t.Errorf("docs/config.md's instance settings differ from the settings table (-table +doc):\n%s", diff)
	}
}

// docTable reads the rows of the table under "## Function-instance
// configuration" in docs/config.md.
func docTable(t *testing.T) []docRow {
	t.Helper()
	b, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Function-instance configuration\n")
	if !ok {
		t.Fatal("docs/config.md has no Function-instance configuration section")
	}
	var rows []docRow
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `PROMPTML_") {
			if len(rows) > 0 {
				break // the end of the table
			}
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 6 {
			t.Fatalf("short row %q", line)
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, docRow{cells[1], cells[2], cells[3], cells[4]})
	}
	return rows
}
