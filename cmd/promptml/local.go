package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/spf13/cobra"

	"github.com/promptml/promptml/shared/localcloud"
	"github.com/promptml/promptml/shared/queue"
)

// Names in the local cloud.
const (
	localDatasets    = "promptml-local-datasets"
	localArtifacts   = "promptml-local-artifacts"
	localUploadTopic = "promptml-local-uploads"
	localUploadSub   = "promptml-local-uploads-bridge"
)

type localOptions struct {
	data, jsonOut, project string
	cfg                    configFlags
	serve                  bool
	port                   int
	timeout                time.Duration
	simLatency             time.Duration
	simErrorRate           float64
	duplicate              bool
	verbose                bool
	pushConcurrency        int
	emulatorPush           bool
	lease                  time.Duration
	faults                 localFaults
}

func newLocalCmd() *cobra.Command {
	o := localOptions{}
	cmd := &cobra.Command{
		Use:   "local --data FILE.csv [--config FILE.yaml]",
		Short: "Run a training run on the local cloud (emulators + simulator, no account, no network)",
		Long: `Start the local cloud — the Firestore and Pub/Sub emulators, an in-process
Cloud Storage (fake-gcs-server) whose uploads trigger OnDatasetUpload, and
the four functions served by the Functions Framework on 127.0.0.1 behind
push subscriptions — then upload FILE.csv (and FILE.yaml as its sidecar
config), follow the run, print the epoch table and the final prompts, and
stop everything it started (also on Ctrl-C).

With --serve and no --data it only starts the local cloud and keeps it up:
start runs with ` + "`promptml run FILE.csv`" + ` and watch them in the dashboard at
http://127.0.0.1:PORT/.

Running emulators named by FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST
are used instead of starting new ones.`,
		Example: `  promptml local --data samples/translation-fr.csv --config samples/translation-fr.yaml
  promptml local --data samples/sentiment.csv --json summary.json
  promptml local --data samples/sentiment.csv --serve   # keep the API up at http://127.0.0.1:8080
  promptml local --serve                                # only the local cloud: API and dashboard at http://127.0.0.1:8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.faults.validate(); err != nil {
				return &exitError{2, err}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runLocal(ctx, cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.data, "data", "", "CSV file with user_input,ground_truth_output columns (required unless --serve)")
	f.StringVar(&o.cfg.file, "config", "", "run config YAML uploaded as the CSV's sidecar (default: FILE.yaml next to the CSV if it exists)")
	o.cfg.overrideFlags(f)
	f.StringVar(&o.jsonOut, "json", "", "also write the final summary as JSON to this file")
	f.BoolVar(&o.serve, "serve", false, "keep the local cloud and its API up after the run ends, until Ctrl-C")
	f.IntVar(&o.port, "port", 8080, "port of the API on 127.0.0.1 with --serve")
	f.StringVar(&o.project, "project", "promptml-local", "project id inside the emulators")
	f.DurationVar(&o.timeout, "timeout", 30*time.Minute, "give up if the run has not ended after this long")
	f.DurationVar(&o.simLatency, "sim-latency", 0, "simulated latency of each LLM call")
	f.Float64Var(&o.simErrorRate, "sim-error-rate", 0, "share of simulated LLM calls failing with a transient 429")
	f.BoolVar(&o.duplicate, "duplicate-deliveries", false, "deliver every Pub/Sub message and upload event twice (tests idempotency)")
	f.BoolVar(&o.verbose, "verbose", false, "show the functions' and emulators' logs")
	f.IntVar(&o.pushConcurrency, "push-concurrency", 64, "Pub/Sub push deliveries in flight per subscription (the emulator's own push sends one at a time)")
	f.BoolVar(&o.emulatorPush, "emulator-push", false, "let the Pub/Sub emulator's own push loop deliver (one message at a time; for comparison)")
	f.DurationVar(&o.lease, "lease", 30*time.Second, "aggregator lease (PROMPTML_LEASE): how long a killed aggregator blocks its phase or stage")
	o.faults.flags(f)
	return cmd
}

// localCloud is what runLocal started; stop tears it down in reverse.
type localCloud struct {
	emulators *localcloud.Emulators
	storage   *localcloud.Storage
	pubsub    *pubsub.Client
	procs     []*functionProc
	servers   []*http.Server
	apiURL    string
	proxies   []*deliveryProxy
	// faultStats counts the faults the local cloud injected.
	faultStats faultStats
	// procMu guards procs, which the restart fault replaces.
	procMu sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
	logs   io.Writer
}

func (lc *localCloud) stop() {
	if lc.cancel != nil {
		lc.cancel()
	}
	for _, s := range lc.servers {
		_ = s.Close()
	}
	lc.wg.Wait() // the restarter stops before the processes are listed
	lc.procMu.Lock()
	defer lc.procMu.Unlock()
	for _, p := range lc.procs {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	}
	for _, p := range lc.procs {
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	if lc.pubsub != nil {
		_ = lc.pubsub.Close()
	}
	if lc.storage != nil {
		lc.storage.Stop()
	}
	if lc.emulators != nil {
		_ = lc.emulators.Stop()
	}
}

func runLocal(ctx context.Context, out io.Writer, o localOptions) error {
	if o.data == "" {
		if !o.serve {
			return &exitError{2, errors.New("--data FILE.csv is required (or --serve alone to only start the local cloud)")}
		}
		return serveLocal(ctx, out, o)
	}
	csv, err := os.ReadFile(o.data)
	if err != nil {
		return &exitError{2, fmt.Errorf("--data: %w", err)}
	}
	// Validated before the local cloud starts: a typo costs nothing.
	sidecar, cfgPath, err := localSidecar(o)
	if err != nil {
		return err
	}
	logs := io.Discard
	if o.verbose {
		logs = os.Stderr
	} else {
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	// Nothing here may reach Google: the client libraries' credential
	// lookup would probe the metadata server.
	_ = os.Setenv("GCE_METADATA_HOST", "127.0.0.1:1")

	lc := &localCloud{logs: logs}
	defer lc.stop()
	start := time.Now()
	fmt.Fprintln(out, "Starting the local cloud…")
	if err := lc.start(ctx, o); err != nil {
		return err
	}
	fmt.Fprintf(out, "Local cloud up in %s: API at %s\n", time.Since(start).Round(100*time.Millisecond), lc.apiURL)

	name := filepath.Base(o.data)
	if !strings.HasSuffix(strings.ToLower(name), ".csv") {
		name += ".csv"
	}
	gcs, err := lc.storage.Client(ctx)
	if err != nil {
		return err
	}
	defer gcs.Close()
	if sidecar != nil {
		w := gcs.Bucket(localDatasets).Object(strings.TrimSuffix(name, ".csv") + ".yaml").NewWriter(ctx)
		if _, err := w.Write(sidecar); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("upload sidecar: %w", err)
		}
	}
	w := gcs.Bucket(localDatasets).Object(name).NewWriter(ctx)
	w.ContentType = "text/csv"
	if _, err := io.Copy(w, bytes.NewReader(csv)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	gen := w.Attrs().Generation
	fmt.Fprintf(out, "Uploaded gs://%s/%s (generation %d)", localDatasets, name, gen)
	if sidecar != nil {
		fmt.Fprintf(out, " with config %s", cfgPath)
	}
	fmt.Fprintln(out)

	api := newAPIClient(lc.apiURL)
	wctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	runID, err := findRun(wctx, api, localDatasets, name, gen)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Run %s\n\n", runID)
	sum, err := follow(wctx, out, api, runID, 300*time.Millisecond)
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{130, fmt.Errorf("interrupted: stopped the local cloud; run %s was left unfinished", runID)}
		}
		return err
	}
	printSummary(out, sum)
	if o.faults.any() || o.duplicate {
		fmt.Fprintf(out, "\nFaults injected by the local cloud: %s\n", lc.faultStats.String())
	}
	if o.jsonOut != "" {
		if err := writeJSONFile(o.jsonOut, sum); err != nil {
			return err
		}
	}
	if o.serve {
		fmt.Fprintf(out, "\nServing the API at %s (GET /runs/%s). Ctrl-C stops everything.\n", lc.apiURL, runID)
		<-ctx.Done()
	}
	if sum.Status != "succeeded" {
		return &exitError{3, fmt.Errorf("run %s ended %s", runID, sum.Status)}
	}
	return nil
}

// localSidecar is the config `local` uploads next to the CSV, validated
// like `run` validates its config (--config, else FILE.yaml next to the
// CSV, with --set and --epochs on top, issue 17 item 9), and how to name it
// in the output. Without overrides the file goes up as it is, comments
// included; nil means no config.
func localSidecar(o localOptions) ([]byte, string, error) {
	if o.cfg.file == "" {
		if p := strings.TrimSuffix(o.data, filepath.Ext(o.data)) + ".yaml"; fileExists(p) {
			o.cfg.file, o.cfg.implicit = p, true
		}
	}
	merged, err := buildConfig(o.cfg)
	if err != nil {
		return nil, "", err
	}
	switch {
	case o.cfg.overrides():
		// JSON is YAML, and round-trips the merged values exactly.
		b, err := json.Marshal(merged)
		if err != nil {
			return nil, "", fmt.Errorf("local: sidecar: %w", err)
		}
		return b, o.cfg.String(), nil
	case o.cfg.file != "":
		b, err := os.ReadFile(o.cfg.file)
		if err != nil {
			return nil, "", &exitError{exitUsage, fmt.Errorf("--config: %w", err)}
		}
		return b, o.cfg.file, nil
	}
	return nil, "", nil
}

// serveLocal starts the local cloud and keeps it up until ctx ends.
func serveLocal(ctx context.Context, out io.Writer, o localOptions) error {
	if !o.verbose {
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	_ = os.Setenv("GCE_METADATA_HOST", "127.0.0.1:1")
	logs := io.Discard
	if o.verbose {
		logs = os.Stderr
	}
	lc := &localCloud{logs: logs}
	defer lc.stop()
	start := time.Now()
	fmt.Fprintln(out, "Starting the local cloud…")
	if err := lc.start(ctx, o); err != nil {
		return err
	}
	fmt.Fprintf(out, "Local cloud up in %s.\n  API and dashboard: %s/\n  Start a run:       promptml run FILE.csv --watch\nCtrl-C stops everything.\n",
		time.Since(start).Round(100*time.Millisecond), lc.apiURL)
	<-ctx.Done()
	return nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// start brings up emulators, storage, the functions and their wiring.
func (lc *localCloud) start(ctx context.Context, o localOptions) error {
	if o.pushConcurrency < 1 {
		return &exitError{2, fmt.Errorf("--push-concurrency must be at least 1, got %d", o.pushConcurrency)}
	}
	if err := lc.startServices(ctx, o); err != nil {
		return err
	}
	env := lc.functionEnv(o)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	urls, err := lc.startFunctions(ctx, self, env, o)
	if err != nil {
		return err
	}
	lc.apiURL = urls["API"]
	proxies, err := lc.startProxies(urls, o)
	if err != nil {
		return err
	}
	push, err := lc.setupPubSub(ctx, proxies, o)
	if err != nil {
		return err
	}
	lc.startDeliveries(ctx, self, env, proxies["OnDatasetUpload"], push, o)
	return nil
}

// startServices starts (or reuses) the emulators and starts the
// in-process Cloud Storage and the Pub/Sub client.
func (lc *localCloud) startServices(ctx context.Context, o localOptions) error {
	var err error
	lc.emulators, err = localcloud.Ensure(ctx, localcloud.EnsureOptions{
		Firestore: localcloud.EmulatorOptions{Log: lc.logs},
		PubSub:    localcloud.EmulatorOptions{Log: lc.logs},
	})
	if err != nil {
		return err
	}
	if err := lc.emulators.Setenv(); err != nil {
		return err
	}
	lc.storage, err = localcloud.StartStorage(ctx, localcloud.StorageOptions{
		Project: o.project, Buckets: []string{localDatasets, localArtifacts},
		NotifyBucket: localDatasets, NotifyTopic: localUploadTopic, PubSubHost: lc.emulators.PubSubHost,
	})
	if err != nil {
		return err
	}
	lc.pubsub, err = localcloud.NewPubSubClient(ctx, lc.emulators.PubSubHost, o.project)
	return err
}

// functionEnv is the environment of the function processes: the instance
// configuration (docs/config.md) and the emulator hosts.
func (lc *localCloud) functionEnv(o localOptions) []string {
	env := append(os.Environ(),
		"PROMPTML_PROJECT="+o.project,
		"PROMPTML_DATASETS_BUCKET="+localDatasets,
		"PROMPTML_ARTIFACTS_BUCKET="+localArtifacts,
		"PROMPTML_LEASE="+o.lease.String(),
		"PROMPTML_SIM_LATENCY="+o.simLatency.String(),
		"PROMPTML_SIM_ERROR_RATE="+strconv.FormatFloat(o.simErrorRate, 'g', -1, 64),
		"FIRESTORE_EMULATOR_HOST="+lc.emulators.FirestoreHost,
		"PUBSUB_EMULATOR_HOST="+lc.emulators.PubSubHost,
		"STORAGE_EMULATOR_HOST="+lc.storage.Host,
		"GCE_METADATA_HOST=127.0.0.1:1",
	)
	return append(env, o.faults.env()...)
}

// startFunctions starts the four functions and returns their URLs by name.
func (lc *localCloud) startFunctions(ctx context.Context, self string, env []string, o localOptions) (map[string]string, error) {
	urls := map[string]string{}
	for _, fn := range functionNames {
		fixed := 0
		if fn == "API" && o.serve {
			fixed = o.port
		}
		u, err := lc.startFunction(ctx, self, fn, fixed, env)
		if err != nil {
			return nil, err
		}
		urls[fn] = u
	}
	return urls, nil
}

// startProxies puts a delivery proxy in front of each event-driven
// function and returns the proxies' URLs by function. Pub/Sub pushes (and
// upload events go) through a proxy in this process, the place where
// deliveries can be duplicated for tests.
func (lc *localCloud) startProxies(urls map[string]string, o localOptions) (map[string]string, error) {
	proxies := map[string]string{}
	for _, fn := range []string{"OnDatasetUpload", "RunBatch", "Aggregate"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		dup := o.faults.duplicateRate
		if o.duplicate {
			dup = 1
		}
		px := &deliveryProxy{name: fn, duplicateRate: dup, seed: o.faults.seed, stats: &lc.faultStats}
		if o.faults.any() {
			px.redeliveries = 10
		}
		px.target.Store(&[]string{urls[fn]}[0])
		lc.proxies = append(lc.proxies, px)
		srv := &http.Server{Handler: px}
		lc.servers = append(lc.servers, srv)
		go func() { _ = srv.Serve(ln) }()
		proxies[fn] = "http://" + ln.Addr().String()
	}
	return proxies, nil
}

// maxBackoff caps the redelivery backoff of the push subscriptions:
// redeliveries back off from 1 s to 10 s, as configured in the cloud;
// under injected faults the cap is 2 s, so a chaos run is not mostly
// waiting.
func (o localOptions) maxBackoff() time.Duration {
	if o.faults.any() {
		return 2 * time.Second
	}
	return 10 * time.Second
}

// setupPubSub creates the topics and subscriptions, and returns the push
// subscriptions this process delivers (subscription → endpoint; none with
// --emulator-push).
func (lc *localCloud) setupPubSub(ctx context.Context, proxies map[string]string, o localOptions) (map[string]string, error) {
	// The two push subscriptions are delivered by localcloud.Push from
	// pull subscriptions: the emulator's push loop sends one message at a
	// time and sleeps when idle, which serialized a phase's batches (and
	// added a poll interval to every hop); Cloud Pub/Sub pushes
	// concurrently. The retry and dead-letter policies are the same.
	maxBackoff := o.maxBackoff()
	// As in the cloud (terraform/pubsub.tf), a push goes to the function's
	// URL followed by the topic path, which the Functions Framework reads
	// (without it, it prints a WARNING on stdout per delivery).
	topicPath := func(topic string) string { return "/projects/" + o.project + "/topics/" + topic }
	push := map[string]string{queue.BatchesTopic + "-push": proxies["RunBatch"] + topicPath(queue.BatchesTopic),
		queue.PhaseDoneTopic + "-push": proxies["Aggregate"] + topicPath(queue.PhaseDoneTopic)}
	routes := []localcloud.Route{
		{Topic: queue.BatchesTopic, Subscription: queue.BatchesTopic + "-push",
			AckDeadline: 600 * time.Second, MinBackoff: time.Second, MaxBackoff: maxBackoff,
			MaxDeliveryAttempts: 20, DeadLetterTopic: queue.BatchesTopic + "-dead-letter"},
		{Topic: queue.PhaseDoneTopic, Subscription: queue.PhaseDoneTopic + "-push",
			AckDeadline: 600 * time.Second, MinBackoff: time.Second, MaxBackoff: maxBackoff,
			MaxDeliveryAttempts: 20, DeadLetterTopic: queue.PhaseDoneTopic + "-dead-letter"},
		{Topic: localUploadTopic, Subscription: localUploadSub},
	}
	if o.emulatorPush {
		routes[0].PushEndpoint, routes[1].PushEndpoint = proxies["RunBatch"]+topicPath(queue.BatchesTopic), proxies["Aggregate"]+topicPath(queue.PhaseDoneTopic)
		push = nil
	}
	if err := localcloud.SetupPubSub(ctx, lc.pubsub, o.project, routes); err != nil {
		return nil, err
	}
	return push, nil
}

// startDeliveries starts what runs until stop: the push deliveries, the
// upload bridge to uploadProxy, and the restart fault.
func (lc *localCloud) startDeliveries(ctx context.Context, self string, env []string, uploadProxy string, push map[string]string, o localOptions) {
	bctx, bcancel := context.WithCancel(context.WithoutCancel(ctx))
	lc.cancel = bcancel
	for sub, endpoint := range push {
		lc.wg.Add(1)
		go func() {
			defer lc.wg.Done()
			opts := localcloud.PushOptions{Concurrency: o.pushConcurrency, MinBackoff: time.Second, MaxBackoff: o.maxBackoff()}
			if err := localcloud.Push(bctx, lc.pubsub, o.project, sub, endpoint, opts); err != nil {
				fmt.Fprintln(os.Stderr, "promptml: push delivery stopped:", err)
			}
		}()
	}
	lc.wg.Add(1)
	go func() {
		defer lc.wg.Done()
		if err := localcloud.BridgeUploads(bctx, lc.pubsub, o.project, localUploadSub, uploadProxy); err != nil {
			fmt.Fprintln(os.Stderr, "promptml: upload bridge stopped:", err)
		}
	}()
	if o.faults.restartEvery > 0 {
		lc.wg.Add(1)
		go func() {
			defer lc.wg.Done()
			lc.restartFunctions(bctx, self, env, o.faults)
		}()
	}
}

// functionProc is one `promptml functions` child process.
type functionProc struct {
	fn   string
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// startFunction starts one function on 127.0.0.1 and waits until it
// answers. A free port can be taken by another process between our probe
// and the child's bind; the child then exits, and we retry on another port.
func (lc *localCloud) startFunction(ctx context.Context, self, fn string, fixedPort int, env []string) (string, error) {
	var lastErr error
	for range 5 {
		port := fixedPort
		if port == 0 {
			var err error
			if port, err = localcloud.FreePort(); err != nil {
				return "", err
			}
		}
		cmd := exec.Command(self, "functions", "--target", fn, "--port", strconv.Itoa(port))
		cmd.Env = append(env, "FUNCTION_TARGET="+fn)
		cmd.Stdout, cmd.Stderr = lc.logs, lc.logs
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return "", fmt.Errorf("start function %s: %w", fn, err)
		}
		p := &functionProc{fn: fn, port: port, cmd: cmd, done: make(chan struct{})}
		go func() { _ = cmd.Wait(); close(p.done) }()
		lc.procMu.Lock()
		lc.procs = append(lc.procs, p)
		lc.procMu.Unlock()
		u := "http://127.0.0.1:" + strconv.Itoa(port)
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ready := make(chan error, 1)
		go func() { ready <- waitReady(rctx, u) }()
		select {
		case err := <-ready:
			cancel()
			if err != nil {
				return "", fmt.Errorf("function %s did not start: %w", fn, err)
			}
			select {
			case <-p.done: // something else answered on that port
				lastErr = fmt.Errorf("function %s exited at start (port %d taken?)", fn, port)
				continue
			default:
				return u, nil
			}
		case <-p.done:
			cancel()
			lastErr = fmt.Errorf("function %s exited at start (port %d taken?); run with --verbose to see why", fn, port)
			if fixedPort != 0 {
				return "", lastErr
			}
		}
	}
	return "", lastErr
}

// findRun waits for the run that the upload (bucket, object, generation)
// started.
func findRun(ctx context.Context, api *apiClient, bucket, object string, gen int64) (string, error) {
	for {
		runs, err := api.runs(ctx)
		if err == nil {
			for _, r := range runs {
				if r.Source.Bucket == bucket && r.Source.Object == object && r.Source.Generation == gen {
					return r.ID, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return "", errors.Join(fmt.Errorf("no run started for gs://%s/%s", bucket, object), ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
