package pipeline

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/promptml/promptml/shared/blob"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/dataset"
	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/fault"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/logging"
	"github.com/promptml/promptml/shared/queue"
	"github.com/promptml/promptml/shared/store"
)

// Result is one scored example, one JSON line of
// runs/{run}/results/{phase}/{batch}.jsonl.
type Result struct {
	ID       string `json:"id"`
	Row      int    `json:"row"`
	Batch    int    `json:"batch"`
	Input    string `json:"user_input"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
	// Score is nil when the example has no score (Error is set): errors are
	// not scores.
	Score       *float64 `json:"score"`
	Passed      bool     `json:"passed"`
	Explanation string   `json:"explanation,omitempty"`
	Error       string   `json:"error,omitempty"`
	// Reason is the classified reason of a model error (e.g. "safety",
	// "content_filter", "bad_request"), empty otherwise.
	Reason string `json:"reason,omitempty"`
	// StartedAt is when the model call began (its latency runs from here):
	// with LatencyMS it places the call on the run's timeline, which the
	// efficiency benchmark uses to measure calls in flight.
	StartedAt time.Time `json:"started_at,omitzero"`
	LatencyMS int64     `json:"latency_ms"`
	Usage     llm.Usage `json:"usage"`
	// Cached is true when the answer came from the response cache.
	Cached bool `json:"cached,omitempty"`
}

// PrimaryRequest is the primary call for one input: system instruction =
// system prompt (plus few-shot demonstrations); user content = user_input,
// a blank line, then the output prompt.
func PrimaryRequest(p *store.Prompt, m config.Model, input string) *llm.Request {
	system := p.System
	if len(p.Examples) > 0 {
		var b bytes.Buffer
		b.WriteString(system)
		b.WriteString("\n\nExamples:\n")
		for _, d := range p.Examples {
			fmt.Fprintf(&b, "Input: %s\nOutput: %s\n", d.Input, d.Output)
		}
		system = b.String()
	}
	temp := m.Temperature
	return &llm.Request{
		Model:           m.Name,
		System:          system,
		Prompt:          input + "\n\n" + p.Output,
		Temperature:     &temp,
		MaxOutputTokens: m.MaxOutputTokens,
		Thinking:        m.Thinking(),
		Purpose:         "primary",
	}
}

// RunBatch answers and scores one batch of one phase, writes its results,
// and does the fan-in. A batch already done is not recomputed. A permanent
// error fails the run.
func (p *Pipeline) RunBatch(ctx context.Context, msg queue.BatchMessage) error {
	ctx = logging.With(ctx, "run_id", msg.RunID, "phase_id", msg.PhaseID, "batch", msg.Batch)
	return p.failOnPermanent(ctx, msg.RunID, p.runBatch(ctx, msg))
}

func (p *Pipeline) runBatch(ctx context.Context, msg queue.BatchMessage) error {
	// The run, the phase and the batch document are read at once: one
	// round trip instead of three before the batch's first model call.
	var (
		r                   *store.Run
		ph                  *store.Phase
		done                bool
		runErr, phErr, bErr error
	)
	var wg sync.WaitGroup
	wg.Go(func() { r, runErr = p.Store.GetRun(ctx, msg.RunID) })
	wg.Go(func() { ph, phErr = p.Store.GetPhase(ctx, msg.RunID, msg.PhaseID) })
	wg.Go(func() { _, done, bErr = p.Store.GetBatch(ctx, msg.RunID, msg.PhaseID, msg.Batch) })
	wg.Wait()
	if runErr != nil {
		return fmt.Errorf("pipeline.RunBatch: %w", runErr)
	}
	if r.Terminal() {
		logging.FromContext(ctx).Info("run has ended; batch dropped", "status", r.Status)
		return nil
	}
	if phErr != nil {
		return fmt.Errorf("pipeline.RunBatch: %w", phErr)
	}
	if msg.Batch >= ph.TotalBatches {
		return &PermanentError{Err: fmt.Errorf("batch %d out of range (phase has %d)", msg.Batch, ph.TotalBatches)}
	}
	if bErr != nil {
		return fmt.Errorf("pipeline.RunBatch: %w", bErr)
	}
	var err error
	var triggered bool
	if done {
		// A redelivery: redo only the fan-in, in case the first attempt
		// died between its batch document and the phase-done message.
		triggered, err = p.Store.CheckPhaseComplete(ctx, msg.RunID, msg.PhaseID)
	} else {
		if stop, err := p.batchOverBudget(ctx, r, ph, msg.Batch); stop || err != nil {
			return err
		}
		var b store.Batch
		if b, err = p.scoreBatch(ctx, r, ph, msg.Batch); err != nil {
			return err
		}
		if err := p.fault(ctx, fault.BatchAfterResults, batchKey(msg)); err != nil {
			return err
		}
		triggered, err = p.Store.CompleteBatch(ctx, msg.RunID, msg.PhaseID, b)
	}
	if err != nil {
		return err
	}
	if err := p.fault(ctx, fault.BatchAfterComplete, batchKey(msg)); err != nil {
		return err
	}
	if triggered {
		return p.Queue.PublishPhaseDone(ctx, queue.PhaseDoneMessage{RunID: msg.RunID, PhaseID: msg.PhaseID})
	}
	return nil
}

func (p *Pipeline) scoreBatch(ctx context.Context, r *store.Run, ph *store.Phase, n int) (store.Batch, error) {
	start := time.Now()
	cfg, err := runConfig(r)
	if err != nil {
		return store.Batch{}, err
	}
	// The prompt and the shard are read at once (one round trip, not two).
	var (
		prompt           *store.Prompt
		examples         []dataset.Example
		promptErr, exErr error
	)
	var rd sync.WaitGroup
	rd.Go(func() { prompt, promptErr = p.Store.GetPrompt(ctx, r.ID, ph.PromptID) })
	rd.Go(func() {
		rc, err := p.Blob.Open(ctx, p.ArtifactsBucket, blob.DataPath(r.ID, ph.Split, n), 0)
		if err != nil {
			exErr = fmt.Errorf("pipeline.scoreBatch: %w", err)
			return
		}
		defer rc.Close()
		if examples, err = dataset.ReadShard(rc); err != nil {
			exErr = fmt.Errorf("pipeline.scoreBatch: %w", err)
		}
	})
	rd.Wait()
	if promptErr != nil {
		return store.Batch{}, fmt.Errorf("pipeline.scoreBatch: %w", promptErr)
	}
	if exErr != nil {
		return store.Batch{}, exErr
	}
	// One meter for the batch: the primary's calls and the judge's.
	meter := &llm.Meter{}
	model, err := p.model(ctx, cfg, cfg.Primary, meter)
	if err != nil {
		return store.Batch{}, &PermanentError{Err: err}
	}
	metric, err := p.metric(ctx, cfg, meter)
	if err != nil {
		return store.Batch{}, &PermanentError{Err: err}
	}

	results := make([]Result, len(examples))
	sem := make(chan struct{}, max(1, cfg.Limits.Concurrency))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	// The first transient failure dooms the batch (it is redelivered whole):
	// stop paying for the calls that are still to come.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	callsCtx := ctx
	if p.BatchTimeout > 0 {
		var stop context.CancelFunc
		callsCtx, stop = context.WithTimeout(ctx, p.BatchTimeout-time.Since(start))
		defer stop()
	}
	for i, ex := range examples {
		if callsCtx.Err() != nil {
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			res, err := p.answer(callsCtx, model, metric, prompt, cfg, ex)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
				return
			}
			res.Batch = n
			results[i] = res
		}()
	}
	wg.Wait()
	if firstErr != nil {
		// Transient failures that outlived the retries: Pub/Sub redelivers
		// the batch later. The calls this attempt paid for are on no batch
		// document: add them to the run, so its spend (and the budget)
		// counts them. (The redelivery finds them in the response cache.)
		if paid := meter.Total(); paid.Calls > 0 {
			by := usageByModel(meter)
			for k, u := range by {
				u.Errors = 0 // the batch's errors are counted when it succeeds
				by[k] = u
			}
			u := usageOf(paid)
			u.Errors = 0
			if err := p.Store.AddRunUsage(context.WithoutCancel(ctx), r.ID, u, by); err != nil {
				logging.FromContext(ctx).Warn("usage of a failed batch attempt not recorded", "error", err.Error())
			}
		}
		return store.Batch{}, fmt.Errorf("pipeline.scoreBatch: %w", firstErr)
	}

	b := store.Batch{N: n, Examples: len(results), Usage: usageOf(meter.Total()), UsageByModel: usageByModel(meter)}
	// Errors are the examples without a score (not the model's failed
	// calls, which the meter's by-model tallies keep).
	b.Usage.Errors = 0
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, res := range results {
		if err := enc.Encode(res); err != nil {
			return store.Batch{}, fmt.Errorf("pipeline.scoreBatch: %w", err)
		}
		if res.Score == nil {
			b.Errors++
			b.Usage.Errors++
			continue
		}
		b.Scored++
		b.Sum += *res.Score
		if res.Passed {
			b.Passed++
		}
	}
	// Each attempt writes its own object and the batch document (created
	// once) names the one that counts, so a concurrent duplicate can never
	// replace the results a summary was computed from.
	path := blob.ResultPath(r.ID, ph.ID, n, attemptID())
	if err := p.Blob.Write(ctx, p.ArtifactsBucket, path, "application/x-ndjson", buf.Bytes()); err != nil {
		return store.Batch{}, err
	}
	b.ResultsURI = "gs://" + p.ArtifactsBucket + "/" + path
	b.DurationMS = time.Since(start).Milliseconds()
	return b, nil
}

// metric builds the run's metric; the judge of llm_judge is the optimizer
// model, the embedder of semantic_similarity the instance's embedding model.
func (p *Pipeline) metric(ctx context.Context, cfg config.Run, meter *llm.Meter) (eval.Metric, error) {
	// The judge goes through the same cache, limiter and retries as the
	// primary, and its usage is metered with the batch.
	judge, err := p.model(ctx, cfg, cfg.Optimizer.Model, meter)
	if err != nil {
		return nil, err
	}
	// So do the embeddings of semantic_similarity.
	var emb eval.Embedder
	if e := p.embedder(cfg, meter); e != nil {
		emb = e
	}
	return eval.Build(cfg.Metrics, eval.Deps{Judge: judge, Embedder: emb})
}

// answer calls the primary model for one example and scores the answer. It
// returns an error only for a transient failure that retries did not fix;
// permanent failures are recorded on the result.
func (p *Pipeline) answer(ctx context.Context, model Generator, metric eval.Metric, prompt *store.Prompt, cfg config.Run, ex dataset.Example) (Result, error) {
	res := Result{ID: ex.ID, Row: ex.Row, Input: ex.UserInput, Expected: ex.GroundTruth}
	req := PrimaryRequest(prompt, cfg.Primary, ex.UserInput)
	start := time.Now()
	res.StartedAt = start.UTC()
	resp, err := model.Generate(ctx, req)
	res.LatencyMS = time.Since(start).Milliseconds()
	if err != nil {
		var le *llm.Error
		if !errors.As(err, &le) || le.Kind == llm.Transient {
			// Retries ran out (or the batch was cancelled): the batch
			// fails and Pub/Sub redelivers it.
			return Result{}, err
		}
		if failsEveryCall(le) {
			return Result{}, modelFailed("primary", "primary.name", "PROMPTML_PRIMARY_MODEL", cfg.Primary, err)
		}
		// Permanent (bad request, safety block, content filter): an error
		// on the example, never a wrong answer.
		res.Error = "llm: " + err.Error()
		res.Reason = le.Reason
		return res, nil
	}
	res.Actual = resp.Text
	res.Usage = resp.Usage
	res.Cached = resp.Cached
	// The judge of llm_judge sees the question too.
	s, err := metric.Score(eval.WithInput(ctx, ex.UserInput), resp.Text, ex.GroundTruth)
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		// A judge or embedding call that stayed unavailable is retried with
		// the batch: an unscored example would make candidates comparable
		// on different subsets.
		var le *llm.Error
		if errors.As(err, &le) && le.Kind == llm.Transient {
			return Result{}, err
		}
		if le != nil && failsEveryCall(le) {
			if llm.ModelUnavailable(le) {
				// The llm_judge judge is the optimizer model.
				return Result{}, modelFailed("judge (llm_judge)", "optimizer.model.name (or the llm_judge metric's model option)", "PROMPTML_OPTIMIZER_MODEL", cfg.Optimizer.Model, err)
			}
			return Result{}, &PermanentError{Err: fmt.Errorf("scoring: %w", err)}
		}
		res.Error = "score: " + err.Error()
		if errors.As(err, &le) {
			res.Reason = le.Reason // e.g. the judge's reply was blocked
		}
		return res, nil
	}
	v := s.Value
	res.Score = &v
	res.Explanation = s.Explanation
	res.Passed = v >= eval.Threshold(metric)
	return res, nil
}

// failsEveryCall reports a permanent error no example can avoid: the model
// does not exist, or the credentials or permissions are wrong. It fails the
// run with its reason rather than being recorded on every example of a run
// that would then "succeed" with nothing scored.
func failsEveryCall(le *llm.Error) bool {
	switch le.Reason {
	case llm.ReasonUnauthenticated, llm.ReasonPermissionDenied, llm.ReasonNotFound:
		return true
	}
	return false
}

// PhaseResults returns the per-example results of a phase's done batches
// from batch `from` on, whole batches in order, stopping once at least
// limit examples are collected (limit <= 0: no limit). next is the batch to
// ask for the rest, or -1 when there is no more.
func (p *Pipeline) PhaseResults(ctx context.Context, runID, phaseID string, from, limit int) (out []Result, next int, err error) {
	ph, err := p.Store.GetPhase(ctx, runID, phaseID)
	if err != nil {
		return nil, -1, err
	}
	batches, err := p.Store.ListBatches(ctx, runID, phaseID)
	if err != nil {
		return nil, -1, err
	}
	sort.Slice(batches, func(i, j int) bool { return batches[i].N < batches[j].N })
	out = []Result{}
	for i, b := range batches {
		if b.N < from {
			continue
		}
		if limit > 0 && len(out) >= limit {
			return out, batches[i].N, nil
		}
		rs, err := p.batchResults(ctx, b)
		if err != nil {
			return nil, -1, fmt.Errorf("pipeline.PhaseResults %s/%d: %w", ph.ID, b.N, err)
		}
		out = append(out, rs...)
	}
	return out, -1, nil
}

// batchResults reads the results object a batch document names.
func (p *Pipeline) batchResults(ctx context.Context, b store.Batch) ([]Result, error) {
	bucket, name, err := blob.ParseURI(b.ResultsURI)
	if err != nil {
		return nil, err
	}
	rc, err := p.Blob.Open(ctx, bucket, name, 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return decodeResults(rc)
}

// attemptID names one attempt at a batch.
func attemptID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// readResults reads every result of a phase, in batch order.
func (p *Pipeline) readResults(ctx context.Context, runID string, ph *store.Phase) ([]Result, []store.Batch, error) {
	batches, err := p.Store.ListBatches(ctx, runID, ph.ID)
	if err != nil {
		return nil, nil, err
	}
	byN := make([]*store.Batch, ph.TotalBatches)
	for i := range batches {
		if b := batches[i]; b.N < len(byN) {
			byN[b.N] = &batches[i]
		}
	}
	for n, b := range byN {
		if b == nil {
			return nil, nil, fmt.Errorf("pipeline.readResults: phase %s batch %d is not done", ph.ID, n)
		}
	}
	// The objects are read concurrently: one after the other, a phase of
	// hundreds of batches cost the aggregator a Storage round trip each
	// between the phase's last reply and the next stage's first call.
	per := make([][]Result, len(byN))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(resultReaders)
	for n, b := range byN {
		g.Go(func() error {
			rs, err := p.batchResults(gctx, *b)
			if err != nil {
				return fmt.Errorf("pipeline.readResults %s/%d: %w", ph.ID, n, err)
			}
			per[n] = rs
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	var out []Result
	for _, rs := range per {
		out = append(out, rs...)
	}
	return out, batches, nil
}

// resultReaders bounds the concurrent reads of one phase's results objects.
const resultReaders = 16

func decodeResults(r io.Reader) ([]Result, error) {
	dec := json.NewDecoder(r)
	var out []Result
	for {
		var res Result
		if err := dec.Decode(&res); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
}
