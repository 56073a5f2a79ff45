// Command efficiency measures how close a training run on the full local
// cloud comes to the physical limit of its LLM calls.
//
// It generates a dataset the simulator can improve on, runs it through
// `promptml local` (the Firestore and Pub/Sub emulators, the in-process
// Cloud Storage, push delivery, the four functions as processes) with a
// fixed simulator latency and a global bound on LLM calls in flight, and
// compares the wall time (upload → run finished) with the ideal lower bound
// calls × latency ÷ concurrency. It reads the run back through the API
// (phases, epochs, every per-example result with its start time) to measure
// the calls in flight and to say where the remaining time went, stage by
// stage. It writes a markdown section with the median of -runs runs.
//
//	go run ./bench/efficiency -runs 3 -out bench/out/efficiency.md
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/promptml/promptml/shared/localcloud"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/store"
)

// options are the command's flags.
type options struct {
	runs        int
	out         string
	examples    int
	epochs      int
	latency     time.Duration
	concurrency int
	batchSize   int
	batchConc   int
	bin         string
	emuPush     bool
	keep        bool
	verbose     bool
	timeout     time.Duration
}

func main() {
	var o options
	flag.IntVar(&o.runs, "runs", 3, "number of runs; the report shows their median")
	flag.StringVar(&o.out, "out", "", "write the markdown section to this file (default: stdout only)")
	flag.IntVar(&o.examples, "examples", 2000, "rows of the generated dataset")
	flag.IntVar(&o.epochs, "epochs", 3, "training epochs (early stopping off)")
	flag.DurationVar(&o.latency, "latency", 200*time.Millisecond, "simulator latency of every LLM call")
	flag.IntVar(&o.concurrency, "concurrency", 32, "global bound on LLM calls in flight")
	flag.IntVar(&o.batchSize, "batch-size", 20, "examples per batch (batch_size)")
	flag.IntVar(&o.batchConc, "batch-concurrency", 0, "calls one batch runs at once (limits.concurrency; 0: the batch size, so only the global bound queues calls)")
	flag.StringVar(&o.bin, "bin", "", "promptml binary to run (default: build ./cmd/promptml into a temporary directory)")
	flag.BoolVar(&o.emuPush, "emulator-push", false, "pass --emulator-push to promptml local (the emulator's serial push loop; the before of the push fix)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (dataset, config, raw JSON of each run)")
	flag.BoolVar(&o.verbose, "v", false, "show the local cloud's output and its functions' logs")
	flag.DurationVar(&o.timeout, "timeout", 20*time.Minute, "give up on a run after this long")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "efficiency:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.runs < 1 || o.examples < 10 || o.epochs < 0 || o.latency <= 0 || o.concurrency < 1 || o.batchSize < 1 {
		return errors.New("need -runs ≥ 1, -examples ≥ 10, -epochs ≥ 0, -latency > 0, -concurrency ≥ 1, -batch-size ≥ 1")
	}
	dir, err := os.MkdirTemp("", "promptml-efficiency-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "work directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin := o.bin
	if bin == "" {
		bin = filepath.Join(dir, "promptml")
		fmt.Fprintln(os.Stderr, "building ./cmd/promptml …")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/promptml")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build: %w", err)
		}
	}
	data := filepath.Join(dir, "efficiency.csv")
	if err := os.WriteFile(data, generateCSV(o.examples), 0o644); err != nil {
		return err
	}
	cfg := filepath.Join(dir, "efficiency.yaml")
	if err := os.WriteFile(cfg, []byte(runConfig(o)), 0o644); err != nil {
		return err
	}
	var ms []*measurement
	for i := range o.runs {
		fmt.Fprintf(os.Stderr, "run %d/%d …\n", i+1, o.runs)
		raw, err := runOnce(ctx, o, bin, data, cfg)
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		if o.keep {
			b, _ := json.MarshalIndent(raw, "", "  ")
			_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("run%d.json", i+1)), b, 0o644)
		}
		m, err := analyze(raw, o)
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		fmt.Fprintf(os.Stderr, "run %d: wall %s, ideal %s, efficiency %.3f, %d calls, max in flight %d\n",
			i+1, secs(m.Wall), secs(m.Ideal), m.Efficiency, m.Calls, m.MaxInFlight)
		ms = append(ms, m)
	}
	md := report(ms, o)
	fmt.Print(md)
	if o.out != "" {
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(o.out, []byte(md), 0o644)
	}
	return nil
}

// generateCSV writes n English→French rows with distinct inputs. The
// simulator answers them with its chatty habits until the prompt says
// otherwise, so training has something to fix in every epoch.
func generateCSV(n int) []byte {
	adjs := [][2]string{{"red", "rouge"}, {"small", "petit"}, {"old", "vieux"}, {"new", "nouveau"}, {"big", "grand"},
		{"green", "vert"}, {"black", "noir"}, {"white", "blanc"}, {"quiet", "calme"}, {"cold", "froid"}}
	nouns := [][2]string{{"house", "maison"}, {"garden", "jardin"}, {"book", "livre"}, {"door", "porte"}, {"car", "voiture"},
		{"table", "table"}, {"street", "rue"}, {"window", "fenêtre"}, {"bridge", "pont"}, {"train", "train"}}
	var b strings.Builder
	b.WriteString("user_input,ground_truth_output\n")
	for i := range n {
		a, no := adjs[i%len(adjs)], nouns[(i/len(adjs))%len(nouns)]
		fmt.Fprintf(&b, "Translate to French: The %s %s number %d,Le %s %s numéro %d\n", a[0], no[0], i+1, no[1], a[1], i+1)
	}
	return []byte(b.String())
}

// runConfig is the sidecar of the generated dataset: every epoch runs
// (early stopping cannot end the run early), the response cache is off so
// every call is made, and the primary model's limiter bounds the calls in
// flight. The local cloud runs one RunBatch instance, so the per-instance
// bound is a global one (the benchmark checks it from the results).
func runConfig(o options) string {
	bc := o.batchConc
	if bc <= 0 {
		bc = o.batchSize
	}
	return fmt.Sprintf(`# Generated by bench/efficiency.
epochs: %d
batch_size: %d
candidates: 1
early_stopping:
  patience: %d
cache: "off"
limits:
  concurrency: %d
primary:
  max_concurrency: %d
`, o.epochs, o.batchSize, o.epochs+1, bc, o.concurrency)
}

// rawRun is what one run left behind, read back through the API.
type rawRun struct {
	Uploaded time.Time                    `json:"uploaded"`
	Run      store.Run                    `json:"run"`
	Phases   []store.Phase                `json:"phases"`
	Epochs   []store.Epoch                `json:"epochs"`
	Events   []store.Event                `json:"events"`
	Results  map[string][]pipeline.Result `json:"results"`
}

// runOnce runs `promptml local --serve` on the dataset, notes when the
// upload finished, waits for the run to end, reads it back through the API
// and stops the local cloud.
func runOnce(ctx context.Context, o options, bin, data, cfg string) (*rawRun, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	port, err := localcloud.FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "local", "--data", data, "--config", cfg, "--serve", "--port", strconv.Itoa(port),
		"--sim-latency", o.latency.String(), "--timeout", o.timeout.String())
	if o.verbose {
		cmd.Args = append(cmd.Args, "--verbose")
	}
	if o.emuPush {
		cmd.Args = append(cmd.Args, "--emulator-push")
	}
	cmd.Env = append(os.Environ(), "GCE_METADATA_HOST=127.0.0.1:1")
	// Emulators named by the environment would be shared with whoever
	// else uses them: start fresh ones.
	cmd.Env = append(cmd.Env, "FIRESTORE_EMULATOR_HOST=", "PUBSUB_EMULATOR_HOST=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if o.verbose {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		// Stop the local cloud as Ctrl-C would, so it stops what it started.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}()

	raw := &rawRun{}
	var runID string
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	serving := false
	for !serving {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the run: %w", ctx.Err())
		case l, ok := <-lines:
			if !ok {
				return nil, errors.New("promptml local exited before the run ended (rerun with -v)")
			}
			if o.verbose {
				fmt.Fprintln(os.Stderr, l)
			}
			switch {
			case strings.HasPrefix(l, "Uploaded gs://"):
				raw.Uploaded = time.Now()
			case strings.HasPrefix(l, "Run ") && runID == "":
				if f := strings.Fields(l); len(f) >= 2 {
					runID = f[1]
				}
			case strings.HasPrefix(l, "Serving the API at"):
				serving = true
			}
		}
	}
	go func() {
		for l := range lines {
			if o.verbose {
				fmt.Fprintln(os.Stderr, l)
			}
		}
	}()
	if runID == "" || raw.Uploaded.IsZero() {
		return nil, errors.New("did not see the upload and the run id in promptml local's output")
	}
	api := &apiClient{base: "http://127.0.0.1:" + strconv.Itoa(port), http: &http.Client{Timeout: time.Minute}}
	if err := api.get(ctx, "/runs/"+runID, &raw.Run); err != nil {
		return nil, err
	}
	if raw.Run.Status != store.StatusSucceeded {
		return nil, fmt.Errorf("run %s ended %s", runID, raw.Run.Status)
	}
	var ph struct{ Phases []store.Phase }
	if err := api.get(ctx, "/runs/"+runID+"/phases", &ph); err != nil {
		return nil, err
	}
	raw.Phases = ph.Phases
	var ep struct{ Epochs []store.Epoch }
	if err := api.get(ctx, "/runs/"+runID+"/epochs", &ep); err != nil {
		return nil, err
	}
	raw.Epochs = ep.Epochs
	var ev struct{ Events []store.Event }
	if err := api.get(ctx, "/runs/"+runID+"/events", &ev); err != nil {
		return nil, err
	}
	raw.Events = ev.Events
	raw.Results = map[string][]pipeline.Result{}
	for _, p := range raw.Phases {
		from := 0
		for from >= 0 {
			var page struct {
				Examples []pipeline.Result `json:"examples"`
				Next     *int              `json:"next_batch_from"`
			}
			q := fmt.Sprintf("/runs/%s/examples?phase=%s&batch_from=%d&limit=5000", runID, p.ID, from)
			if err := api.get(ctx, q, &page); err != nil {
				return nil, err
			}
			raw.Results[p.ID] = append(raw.Results[p.ID], page.Examples...)
			from = -1
			if page.Next != nil {
				from = *page.Next
			}
		}
	}
	return raw, nil
}

// apiClient reads the API's JSON.
type apiClient struct {
	base string
	http *http.Client
}

func (c *apiClient) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, out)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// machine describes where the numbers were taken.
func machine() string {
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for l := range strings.SplitSeq(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.Atoi(f[1]); err == nil {
					mem = fmt.Sprintf(", %.1f GiB", float64(kb)/(1<<20))
				}
			}
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = fmt.Sprintf(", load average %s %s %s at the end", f[0], f[1], f[2])
		}
	}
	return fmt.Sprintf("%d cores%s, %s, %s/%s%s", runtime.NumCPU(), mem, runtime.Version(), runtime.GOOS, runtime.GOARCH, load)
}

// median of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
