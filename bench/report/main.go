// Command report runs promptml's benchmarks and writes docs/benchmarks.md
// (`make bench`): promptml against promptfoo on the same sim-server, intake
// of a generated 1,000,000-row CSV through the start function, the call
// economy of the response cache, and the Go microbenchmarks; it includes
// the pipeline-efficiency section that bench/efficiency writes. Every
// figure is the median of -runs runs and comes with the command that
// produced it and the machine it ran on.
//
// It starts the Firestore and Pub/Sub emulators (or uses those named by
// FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST) and stops what it
// started. Nothing it runs reaches a non-loopback address.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/promptml/promptml/shared/localcloud"
)

// harness holds the settings every benchmark reads.
type harness struct {
	bin         string
	work        string
	runs        int
	latency     time.Duration
	concurrency int
	compareRows int
	intakeRows  int
	intakeBatch int
	// intakeDefaultBatch, when not 0, adds one intake run at this batch size.
	intakeDefaultBatch int
	emulators          *localcloud.Emulators
	started            time.Time
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench %6.1fs] %s\n", time.Since(h.started).Seconds(), fmt.Sprintf(format, args...))
}

func main() {
	h := &harness{started: time.Now()}
	var out, efficiency, only, from, note string
	flag.StringVar(&h.bin, "bin", "bin/promptml", "the promptml binary (make build)")
	flag.StringVar(&h.work, "work", "bench/out", "scratch directory for datasets, configs and raw results")
	flag.IntVar(&h.runs, "runs", 3, "runs of each timed benchmark; the report gives the median")
	flag.DurationVar(&h.latency, "latency", 200*time.Millisecond, "sim-server latency of benchmark (2)")
	flag.IntVar(&h.concurrency, "concurrency", 32, "calls in flight of both tools in benchmark (2)")
	flag.IntVar(&h.compareRows, "compare-rows", 1000, "rows of benchmark (2)")
	flag.IntVar(&h.intakeRows, "intake-rows", 1_000_000, "rows of benchmark (3)")
	flag.IntVar(&h.intakeBatch, "intake-batch-size", 1000, "batch_size of the run benchmark (3) starts")
	flag.IntVar(&h.intakeDefaultBatch, "intake-default-batch-size", 20, "also one intake run at this batch_size (the default config's); 0 skips it")
	flag.StringVar(&from, "from", "", "render the report from this results JSON (written by an earlier run next to the scratch files) without running anything")
	flag.StringVar(&note, "note", "", "a paragraph printed under the machine line (e.g. how loaded the machine was)")
	flag.StringVar(&out, "out", "docs/benchmarks.md", "the report to write")
	flag.StringVar(&efficiency, "efficiency", "bench/out/efficiency.md", "markdown section written by go run ./bench/efficiency, included if present")
	flag.StringVar(&only, "only", "compare,intake,economy,micro", "benchmarks to run (comma-separated); the others are reported as not run")
	flag.Parse()
	if from != "" {
		if err := renderFrom(from, out, note); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(h, out, efficiency, note, strings.Split(only, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(h *harness, out, efficiencyPath, note string, only []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Nothing here may reach Google.
	_ = os.Setenv("GCE_METADATA_HOST", "127.0.0.1:1")
	var err error
	if h.work, err = filepath.Abs(h.work); err != nil {
		return err
	}
	if h.bin, err = filepath.Abs(h.bin); err != nil {
		return err
	}
	if err := os.MkdirAll(h.work, 0o755); err != nil {
		return err
	}
	rep := &report{Machine: readMachine(), Runs: h.runs, Started: time.Now().UTC(), Note: note}

	if slices.Contains(only, "micro") {
		h.logf("micro: go test -bench")
		if rep.Micro, err = runMicro(ctx); err != nil {
			return err
		}
	}
	if slices.Contains(only, "compare") || slices.Contains(only, "intake") || slices.Contains(only, "economy") {
		h.logf("starting the emulators")
		h.emulators, err = localcloud.Ensure(ctx, localcloud.EnsureOptions{})
		if err != nil {
			return err
		}
		defer h.emulators.Stop()
		if err := h.emulators.Setenv(); err != nil {
			return err
		}
	}
	// results.json is rewritten after each benchmark, so that an
	// interrupted run can still be rendered (-from).
	save := func() {
		if b, err := json.MarshalIndent(rep, "", "  "); err == nil {
			_ = os.WriteFile(filepath.Join(h.work, "results.json"), b, 0o644)
		}
	}
	if slices.Contains(only, "compare") {
		if rep.Compare, err = runCompare(ctx, h); err != nil {
			return fmt.Errorf("benchmark (2): %w", err)
		}
		save()
	}
	if slices.Contains(only, "intake") {
		in, err := runIntake(ctx, h, h.intakeBatch, h.runs)
		if err != nil {
			return fmt.Errorf("benchmark (3): %w", err)
		}
		rep.Intake = append(rep.Intake, in)
		save()
		if h.intakeDefaultBatch > 0 && h.intakeDefaultBatch != h.intakeBatch {
			// The default batch size, once: its shard count bounds the rate.
			in, err := runIntake(ctx, h, h.intakeDefaultBatch, 1)
			if err != nil {
				return fmt.Errorf("benchmark (3), batch_size %d: %w", h.intakeDefaultBatch, err)
			}
			rep.Intake = append(rep.Intake, in)
		}
		save()
	}
	if slices.Contains(only, "economy") {
		if rep.Economy, err = runEconomy(ctx, h); err != nil {
			return fmt.Errorf("benchmark (4): %w", err)
		}
	}
	if b, err := os.ReadFile(efficiencyPath); err == nil {
		rep.Efficiency = string(b)
	} else {
		rep.EfficiencyMissing = efficiencyPath
	}
	rep.Duration = time.Since(h.started)
	save()
	var buf bytes.Buffer
	rep.render(&buf)
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	h.logf("wrote %s", out)
	return nil
}

// renderFrom renders a report from the results JSON of an earlier run.
func renderFrom(from, out, note string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", from, err)
	}
	if note != "" {
		rep.Note = note
	}
	var buf bytes.Buffer
	rep.render(&buf)
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

// runMicro runs the Go benchmarks of the metrics and the CSV reader.
func runMicro(ctx context.Context) (*microResult, error) {
	res := &microResult{}
	for _, c := range [][]string{
		{"test", "./shared/eval", "-run", "^$", "-bench", "BenchmarkMetrics", "-benchtime", "200x", "-count", "1"},
		{"test", "./shared/dataset", "-run", "^$", "-bench", ".", "-benchtime", "3x", "-benchmem", "-count", "1"},
	} {
		res.Commands = append(res.Commands, "go "+strings.Join(c, " "))
		cmd := exec.CommandContext(ctx, "go", c...)
		// Its own process group, killed whole on cancel: go test's
		// benchmark binary is a child of go.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.Stderr = os.Stderr
		b, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(c, " "), err, b)
		}
		res.Results = append(res.Results, parseGoBench(bytes.NewReader(b))...)
	}
	return res, nil
}

// commandOutput runs a command and returns its combined output.
func commandOutput(ctx context.Context, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// versionOf finds the version in a `--version` output. promptfoo prints a
// Node.js support warning before its version on Node 20, so the first line
// is not always it.
func versionOf(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); versionRE.MatchString(l) {
			return l
		}
	}
	return firstLine(s)
}

var versionRE = regexp.MustCompile(`^v?\d+\.\d+\.\d+\S*$`)

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(l)
}

// rel shows a path of the harness relative to the repository root (the
// working directory of make bench) when it is under it.
func rel(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if r, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// relArgs applies rel to every argument that is an absolute path.
func relArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if filepath.IsAbs(a) {
			out[i] = rel(a)
		}
	}
	return strings.Join(out, " ")
}

// emulatorsRSS is the summed RSS in MiB of the Java emulators running now.
func emulatorsRSS() float64 {
	var kib int64
	for _, p := range treeOf(readProcs(), os.Getpid()) {
		if isEmulator(p.cmdline) {
			kib += p.rssKiB
		}
	}
	return float64(kib) / 1024
}
