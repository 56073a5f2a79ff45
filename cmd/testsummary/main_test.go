package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// stream is `go test -json` output of two packages: one with a pass, a
// skipped browser test and a skipped subtest, one with a failure.
const stream = `{"Action":"start","Package":"example.com/a"}
{"Action":"run","Package":"example.com/a","Test":"TestPass"}
{"Action":"output","Package":"example.com/a","Test":"TestPass","Output":"=== RUN   TestPass\n"}
{"Action":"output","Package":"example.com/a","Test":"TestPass","Output":"--- PASS: TestPass (0.00s)\n"}
{"Action":"pass","Package":"example.com/a","Test":"TestPass"}
{"Action":"run","Package":"example.com/a","Test":"TestDashboardBrowser"}
{"Action":"output","Package":"example.com/a","Test":"TestDashboardBrowser","Output":"=== RUN   TestDashboardBrowser\n"}
{"Action":"output","Package":"example.com/a","Test":"TestDashboardBrowser","Output":"    dashboard_browser_test.go:51: no Chromium found: install it (apt-get install chromium) to run the browser test\n"}
{"Action":"output","Package":"example.com/a","Test":"TestDashboardBrowser","Output":"--- SKIP: TestDashboardBrowser (0.00s)\n"}
{"Action":"skip","Package":"example.com/a","Test":"TestDashboardBrowser"}
{"Action":"run","Package":"example.com/a","Test":"TestTable/no_proc"}
{"Action":"output","Package":"example.com/a","Test":"TestTable/no_proc","Output":"    --- SKIP: TestTable/no_proc (0.00s)\n"}
{"Action":"output","Package":"example.com/a","Test":"TestTable/no_proc","Output":"        parse_test.go:78: no /proc\n"}
{"Action":"skip","Package":"example.com/a","Test":"TestTable/no_proc"}
{"Action":"output","Package":"example.com/a","Output":"PASS\n"}
{"Action":"output","Package":"example.com/a","Output":"ok  \texample.com/a\t0.01s\n"}
{"Action":"pass","Package":"example.com/a"}
{"Action":"run","Package":"example.com/b","Test":"TestBroken"}
{"Action":"output","Package":"example.com/b","Test":"TestBroken","Output":"=== RUN   TestBroken\n"}
{"Action":"output","Package":"example.com/b","Test":"TestBroken","Output":"    b_test.go:9: got 1, want 2\n"}
{"Action":"output","Package":"example.com/b","Test":"TestBroken","Output":"--- FAIL: TestBroken (0.00s)\n"}
{"Action":"fail","Package":"example.com/b","Test":"TestBroken"}
{"Action":"output","Package":"example.com/b","Output":"FAIL\n"}
{"Action":"output","Package":"example.com/b","Output":"FAIL\texample.com/b\t0.01s\n"}
{"Action":"fail","Package":"example.com/b"}
{"Action":"output","Package":"example.com/c","Output":"?   \texample.com/c\t[no test files]\n"}
{"Action":"skip","Package":"example.com/c"}
`

func TestPrinter(t *testing.T) {
	var out bytes.Buffer
	p := newPrinter(&out)
	if err := p.read(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	s := p.summary()
	s.write(&out)
	got := out.String()
	for _, want := range []string{
		"ok  \texample.com/a\t0.01s\n",
		"    b_test.go:9: got 1, want 2\n--- FAIL: TestBroken (0.00s)\n",
		"FAIL\texample.com/b\t0.01s\n",
		"?   \texample.com/c\t[no test files]\n",
		"Skipped: 2 test(s) in 1 package(s) (2 ran):\n",
		"  example.com/a: no Chromium found: install it (apt-get install chromium) to run the browser test (TestDashboardBrowser)\n",
		"  example.com/a: no /proc (TestTable/no_proc)\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, noise := range []string{"=== RUN", "--- PASS", "PASS\n\n", "--- SKIP"} {
		if strings.Contains(got, noise) {
			t.Errorf("output has %q, which plain go test does not print:\n%s", noise, got)
		}
	}
	if s.failed != 1 {
		t.Errorf("failed = %d, want 1 (package example.com/b)", s.failed)
	}
	if req := s.required(); len(req) != 1 || req[0] != "TestDashboardBrowser" {
		t.Errorf("required skips = %v, want [TestDashboardBrowser]", req)
	}
}

func TestNothingSkipped(t *testing.T) {
	var out bytes.Buffer
	p := newPrinter(&out)
	if err := p.read(strings.NewReader(strings.SplitAfter(stream, "\n")[0] + `{"Action":"pass","Package":"example.com/a","Test":"TestPass"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	p.summary().write(&out)
	if !strings.Contains(out.String(), "Skipped: nothing; every test ran (1 tests).") {
		t.Errorf("output:\n%s", out.String())
	}
}

// TestMain doubles as the fake `go test` of TestRun: with
// TESTSUMMARY_FAKE set, the binary prints that file and exits with
// TESTSUMMARY_FAKE_CODE.
func TestMain(m *testing.M) {
	if f := os.Getenv("TESTSUMMARY_FAKE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(9)
		}
		os.Stdout.Write(b)
		code, _ := strconv.Atoi(os.Getenv("TESTSUMMARY_FAKE_CODE"))
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestRun: the exit status is the command's, and with CI=true a skipped
// browser or emulator test fails the run.
func TestRun(t *testing.T) {
	passing := strings.SplitAfter(stream, `{"Action":"run","Package":"example.com/b"`)[0]
	passing = strings.TrimSuffix(passing, `{"Action":"run","Package":"example.com/b"`)
	onlyPass := `{"Action":"pass","Package":"example.com/a","Test":"TestPass"}` + "\n"
	emulatorSkip := `{"Action":"output","Package":"example.com/p","Test":"TestLocal","Output":"    testing.go:70: needs the Firestore and Pub/Sub emulators; skipped with -short\n"}
{"Action":"skip","Package":"example.com/p","Test":"TestLocal"}
`
	tests := []struct {
		name   string
		stream string
		code   int
		ci     bool
		want   int
		says   string
	}{
		{"all pass", onlyPass, 0, false, 0, "Skipped: nothing"},
		{"skips outside CI", passing, 0, false, 0, "no Chromium found"},
		{"browser skipped in CI", passing, 0, true, 1, "CI=true and 1 browser or emulator test(s) were skipped"},
		{"emulators skipped in CI", emulatorSkip, 0, true, 1, "(TestLocal)"},
		{"other skips in CI", strings.ReplaceAll(passing, "no Chromium found: install it (apt-get install chromium) to run the browser test", "no samples"), 0, true, 0, "no samples"},
		{"go test failed", stream, 1, false, 1, "FAIL\texample.com/b"},
		{"failure in the stream though exit 0", stream, 0, false, 1, "--- FAIL: TestBroken"},
		{"exit code passed on", onlyPass, 3, false, 3, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := t.TempDir() + "/stream.json"
			if err := os.WriteFile(f, []byte(tc.stream), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Setenv("TESTSUMMARY_FAKE", f)
			t.Setenv("TESTSUMMARY_FAKE_CODE", strconv.Itoa(tc.code))
			exe, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if got := run(t.Context(), []string{exe}, &out, tc.ci); got != tc.want {
				t.Errorf("exit %d, want %d:\n%s", got, tc.want, out.String())
			}
			if !strings.Contains(out.String(), tc.says) {
				t.Errorf("output lacks %q:\n%s", tc.says, out.String())
			}
		})
	}
}
