package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/promptml/promptml/shared/fault"
)

// localFaults are the fault-injection flags of `promptml local` (all off by
// default): the local cloud duplicates deliveries and restarts the
// function processes itself; the batch and aggregate faults and the LLM
// errors are injected inside the function processes through PROMPTML_*
// variables (docs/reliability.md).
type localFaults struct {
	duplicateRate float64
	batchRate     float64
	aggregateRate float64
	restartEvery  time.Duration
	seed          int64
}

func (f *localFaults) flags(fs *pflag.FlagSet) {
	fs.Float64Var(&f.duplicateRate, "fault-duplicate-rate", 0, "share of Pub/Sub deliveries and upload events delivered twice at once (--duplicate-deliveries = 1)")
	fs.Float64Var(&f.batchRate, "fault-batch-rate", 0, "probability that a RunBatch invocation fails at each fault point after part of its effects (results object written, batch document not; batch document written, phase-done not published)")
	fs.Float64Var(&f.aggregateRate, "fault-aggregate-rate", 0, "probability that an Aggregate invocation fails at each fault point after part of its effects (phase summary, next stage's writes, committed transition, fan-out)")
	fs.DurationVar(&f.restartEvery, "fault-restart-every", 0, "kill -9 one function process (OnDatasetUpload, RunBatch, Aggregate in turn) this often and start it again")
	fs.Int64Var(&f.seed, "fault-seed", 1, "seed of the injected faults")
}

// any reports whether a fault is on.
func (f localFaults) any() bool {
	return f.duplicateRate > 0 || f.batchRate > 0 || f.aggregateRate > 0 || f.restartEvery > 0
}

// env passes the in-process faults to the function processes.
func (f localFaults) env() []string {
	if f.batchRate <= 0 && f.aggregateRate <= 0 {
		return nil
	}
	return []string{
		"PROMPTML_FAULT_BATCH_RATE=" + strconv.FormatFloat(f.batchRate, 'g', -1, 64),
		"PROMPTML_FAULT_AGGREGATE_RATE=" + strconv.FormatFloat(f.aggregateRate, 'g', -1, 64),
		"PROMPTML_FAULT_SEED=" + strconv.FormatInt(f.seed, 10),
	}
}

func (f localFaults) validate() error {
	for _, r := range []struct {
		name string
		v    float64
		max  float64
	}{{"--fault-duplicate-rate", f.duplicateRate, 1}, {"--fault-batch-rate", f.batchRate, 0.99}, {"--fault-aggregate-rate", f.aggregateRate, 0.99}} {
		if r.v < 0 || r.v > r.max {
			return fmt.Errorf("%s must be in [0,%g], got %g", r.name, r.max, r.v)
		}
	}
	if f.restartEvery < 0 || (f.restartEvery > 0 && f.restartEvery < time.Second) {
		return fmt.Errorf("--fault-restart-every must be 0 (off) or at least 1s, got %s", f.restartEvery)
	}
	return nil
}

// faultStats counts what the local cloud injected and what came of it.
type faultStats struct {
	deliveries  atomic.Int64 // pushes and upload events received by the proxies
	duplicated  atomic.Int64 // of which delivered twice
	failed      atomic.Int64 // answered with an error, so the message is redelivered
	restarts    atomic.Int64 // function processes killed and started again
	restartFail atomic.Int64 // restarts that did not come back up
}

func (s *faultStats) String() string {
	return fmt.Sprintf("%d deliveries, %d duplicated, %d failed (redelivered), %d function restarts",
		s.deliveries.Load(), s.duplicated.Load(), s.failed.Load(), s.restarts.Load())
}

// deliveryProxy forwards a push delivery to a function; a share
// duplicateRate of the deliveries is sent twice at once, as at-least-once
// delivery may. Its target changes when the restart fault moves a function
// to another port.
type deliveryProxy struct {
	name          string
	target        atomic.Pointer[string]
	duplicateRate float64
	seed          int64
	n             atomic.Int64
	stats         *faultStats
	// redeliveries is how many times the proxy itself redelivers a failed
	// push (backoff 250 ms doubling to 2 s) before failing it back to the
	// emulator. Under injected faults a run fails hundreds of deliveries,
	// and the Pub/Sub emulator then slows its pushes to the endpoint for
	// minutes; the proxy's redeliveries are the same at-least-once
	// redelivery (a new invocation of the same message), without that
	// stall. 0 without faults: the emulator's retry policy alone.
	redeliveries int
}

func (p *deliveryProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	backoff := 250 * time.Millisecond
	for attempt := 0; ; attempt++ {
		code := p.deliver(r, body)
		if code/100 == 2 {
			w.WriteHeader(code)
			return
		}
		p.stats.failed.Add(1)
		if attempt >= p.redeliveries {
			w.WriteHeader(code)
			return
		}
		// Redeliver here rather than nack: see redeliveries.
		select {
		case <-r.Context().Done():
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// deliver makes one delivery (two at once if duplicated) and returns the
// first failure's status, or the success status.
func (p *deliveryProxy) deliver(r *http.Request, body []byte) int {
	n := 1
	i := p.n.Add(1) - 1
	p.stats.deliveries.Add(1)
	if p.duplicateRate >= 1 || fault.Sample(p.seed, "duplicate/"+p.name, int(i), p.duplicateRate) {
		n = 2
		p.stats.duplicated.Add(1)
	}
	target := *p.target.Load()
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// The path is kept: a push carries its topic there.
			req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
			if err != nil {
				codes[i] = http.StatusInternalServerError
				return
			}
			req.Header = r.Header.Clone()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				// The function is down (killed by the restart fault): the
				// delivery fails and is redelivered.
				codes[i] = http.StatusBadGateway
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for _, c := range codes {
		if c/100 != 2 {
			return c
		}
	}
	return codes[0]
}

// restartFunctions kills one function process with SIGKILL every
// f.restartEvery (OnDatasetUpload, RunBatch, Aggregate in turn; never the
// API, which the CLI follows the run through) and starts it again on the
// same port, or on another one if that port was taken meanwhile.
func (lc *localCloud) restartFunctions(ctx context.Context, self string, env []string, f localFaults) {
	order := []string{"RunBatch", "Aggregate", "OnDatasetUpload"}
	t := time.NewTicker(f.restartEvery)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn := order[i%len(order)]
		lc.procMu.Lock()
		var old *functionProc
		idx := -1
		for j, p := range lc.procs {
			if p.fn == fn {
				old, idx = p, j
			}
		}
		if old != nil {
			lc.procs = append(lc.procs[:idx], lc.procs[idx+1:]...)
		}
		lc.procMu.Unlock()
		if old == nil {
			continue
		}
		_ = syscall.Kill(-old.cmd.Process.Pid, syscall.SIGKILL)
		<-old.done
		lc.faultStats.restarts.Add(1)
		u, err := lc.startFunction(ctx, self, fn, old.port, env)
		if err != nil && ctx.Err() == nil {
			u, err = lc.startFunction(ctx, self, fn, 0, env)
		}
		if err != nil {
			lc.faultStats.restartFail.Add(1)
			if ctx.Err() == nil {
				fmt.Fprintf(lc.logs, "promptml: restart of %s failed: %v\n", fn, err)
			}
			continue
		}
		for _, px := range lc.proxies {
			if px.name == fn {
				px.target.Store(&u)
			}
		}
	}
}
