// Command testsummary runs `go test -json …` (the command after --), prints
// its output as a plain `go test` would (package lines, and the output of
// failing tests only), then a summary of what was skipped and why, so a
// skipped suite is never silent (issue 17 item 13). It exits with the
// command's status; with CI=true a skipped browser or emulator test also
// fails it, because CI must run them.
//
//	testsummary -- go test -json -count=1 ./...
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"sort"
	"strings"
	"syscall"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: testsummary -- go test -json [flags] [packages]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, args, os.Stdout, os.Getenv("CI") == "true"))
}

// run runs the command, streams its JSON through a printer to out, and
// returns the exit status.
func run(ctx context.Context, args []string, out io.Writer, ci bool) int {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	// Interrupted, go test gets the signal a terminal would send, so its
	// test binaries clean up (emulator projects, temp dirs).
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintf(out, "testsummary: %v\n", err)
		return 1
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(out, "testsummary: %v\n", err)
		return 1
	}
	p := newPrinter(out)
	if err := p.read(stdout); err != nil {
		fmt.Fprintf(out, "testsummary: reading the test output: %v\n", err)
	}
	code := 0
	if err := cmd.Wait(); err != nil {
		code = 1
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() > 0 {
			code = ee.ExitCode()
		}
	}
	s := p.summary()
	s.write(out)
	if code == 0 && s.failed > 0 {
		code = 1
	}
	if req := s.required(); ci && len(req) > 0 {
		fmt.Fprintf(out, "FAIL: CI=true and %d browser or emulator test(s) were skipped: CI must run them (%s)\n", len(req), strings.Join(req, ", "))
		if code == 0 {
			code = 1
		}
	}
	return code
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string `json:"Action"`
	Package string `json:"Package"`
	Test    string `json:"Test"`
	Output  string `json:"Output"`
}

// skip is one skipped test and the reason it gave.
type skip struct {
	pkg, test, reason string
}

// printer turns the event stream into go test's plain output and collects
// the skips.
type printer struct {
	out io.Writer
	// buf holds each running test's output until it ends: printed if it
	// fails, read for the reason if it skips.
	buf    map[string][]string
	skips  []skip
	failed int
	ran    int
}

func newPrinter(out io.Writer) *printer {
	return &printer{out: out, buf: map[string][]string{}}
}

// read consumes the stream; a line that is not JSON (a build error
// printed before test2json starts) is printed as it is.
func (p *printer) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Fprintln(p.out, sc.Text())
			continue
		}
		p.handle(e)
	}
	return sc.Err()
}

func (p *printer) handle(e event) {
	key := e.Package + " " + e.Test
	switch {
	case e.Action == "build-output":
		fmt.Fprint(p.out, e.Output)
	case e.Action == "build-fail":
		p.failed++
	case e.Test == "" && e.Action == "output":
		// Package lines: ok, FAIL, "? … [no test files]", TestMain's own
		// prints. The bare PASS of the implied -v is not go test's plain
		// output.
		if e.Output != "PASS\n" {
			fmt.Fprint(p.out, e.Output)
		}
	case e.Test == "" && e.Action == "fail":
		p.failed++
	case e.Test == "":
	case e.Action == "output":
		p.buf[key] = append(p.buf[key], e.Output)
	case e.Action == "fail":
		p.ran++
		for _, l := range p.buf[key] {
			if !strings.HasPrefix(l, "=== ") { // go test's plain output has no RUN/PAUSE/CONT lines
				fmt.Fprint(p.out, l)
			}
		}
		delete(p.buf, key)
	case e.Action == "skip":
		p.skips = append(p.skips, skip{pkg: e.Package, test: e.Test, reason: reason(p.buf[key])})
		delete(p.buf, key)
	case e.Action == "pass":
		p.ran++
		delete(p.buf, key)
	}
}

// location is the file:line prefix testing puts on t.Skip's message.
var location = regexp.MustCompile(`^\s*[\w./-]+\.go:\d+: `)

// reason is a skipped test's message: its output without the framing
// lines (=== RUN, --- SKIP) and the file:line prefix.
func reason(lines []string) string {
	var msg []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		msg = append(msg, strings.TrimSpace(location.ReplaceAllString(l, "")))
	}
	if len(msg) == 0 {
		return "(no reason given)"
	}
	return strings.Join(msg, " ")
}

// summary is what the run skipped, grouped by package and reason.
type summary struct {
	skips  []skip
	failed int
	ran    int
}

func (p *printer) summary() summary {
	s := summary{skips: append([]skip(nil), p.skips...), failed: p.failed, ran: p.ran}
	sort.SliceStable(s.skips, func(i, j int) bool {
		if s.skips[i].pkg != s.skips[j].pkg {
			return s.skips[i].pkg < s.skips[j].pkg
		}
		return s.skips[i].test < s.skips[j].test
	})
	return s
}

// write prints the summary: one line per package and reason, with the
// tests it covers.
func (s summary) write(w io.Writer) {
	if len(s.skips) == 0 {
		fmt.Fprintf(w, "\nSkipped: nothing; every test ran (%d tests).\n", s.ran)
		return
	}
	type group struct {
		pkg, reason string
		tests       []string
	}
	var groups []*group
	at := map[string]*group{}
	pkgs := map[string]bool{}
	for _, sk := range s.skips {
		k := sk.pkg + "\x00" + sk.reason
		g := at[k]
		if g == nil {
			g = &group{pkg: sk.pkg, reason: sk.reason}
			at[k] = g
			groups = append(groups, g)
		}
		g.tests = append(g.tests, sk.test)
		pkgs[sk.pkg] = true
	}
	fmt.Fprintf(w, "\nSkipped: %d test(s) in %d package(s) (%d ran):\n", len(s.skips), len(pkgs), s.ran)
	for _, g := range groups {
		tests := g.tests
		if len(tests) > 3 {
			tests = append(tests[:3:3], fmt.Sprintf("and %d more", len(g.tests)-3))
		}
		fmt.Fprintf(w, "  %s: %s (%s)\n", g.pkg, g.reason, strings.Join(tests, ", "))
	}
}

// requiredSuite matches the reasons of the suites CI must run: the
// dashboard's browser test (Chromium) and the emulator tests.
var requiredSuite = regexp.MustCompile(`(?i)chromium|emulator`)

// required lists the skipped tests CI must not skip.
func (s summary) required() []string {
	var out []string
	for _, sk := range s.skips {
		if requiredSuite.MatchString(sk.reason) {
			out = append(out, sk.test)
		}
	}
	return out
}
