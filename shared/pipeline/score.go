package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/promptml/promptml/shared/blob"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/dataset"
	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/logging"
	"github.com/promptml/promptml/shared/store"
)

// scoreBatch answers and scores batch n of a phase and writes its results
// object; the batch document it returns names that object.
func (p *Pipeline) scoreBatch(ctx context.Context, r *store.Run, ph *store.Phase, n int) (store.Batch, error) {
	start := time.Now()
	cfg, err := runConfig(r)
	if err != nil {
		return store.Batch{}, err
	}
	prompt, examples, err := p.batchInput(ctx, r.ID, ph, n)
	if err != nil {
		return store.Batch{}, err
	}
	// One meter for the batch, carried by the context: the primary's calls,
	// the judge's and the embeddings'.
	meter := &llm.Meter{}
	ctx = llm.WithMeter(ctx, meter)
	model, err := p.model(ctx, cfg, cfg.Primary)
	if err != nil {
		return store.Batch{}, errs.Invalid(err)
	}
	metric, err := p.metric(ctx, cfg)
	if err != nil {
		return store.Batch{}, errs.Invalid(err)
	}
	results, err := p.answerAll(ctx, start, model, metric, prompt, cfg, examples, n)
	if err != nil {
		p.recordFailedAttempt(ctx, r.ID, meter)
		return store.Batch{}, fmt.Errorf("pipeline.scoreBatch: %w", err)
	}
	b, lines, err := tally(n, results, meter)
	if err != nil {
		return store.Batch{}, fmt.Errorf("pipeline.scoreBatch: %w", err)
	}
	// Each attempt writes its own object and the batch document (created
	// once) names the one that counts, so a concurrent duplicate can never
	// replace the results a summary was computed from.
	path := blob.ResultPath(r.ID, ph.ID, n, attemptID())
	if err := p.blob.Write(ctx, p.cfg.ArtifactsBucket, path, "application/x-ndjson", lines); err != nil {
		return store.Batch{}, err
	}
	b.ResultsURI = "gs://" + p.cfg.ArtifactsBucket + "/" + path
	b.DurationMS = time.Since(start).Milliseconds()
	return b, nil
}

// batchInput reads the phase's prompt and the batch's shard at once (one
// round trip, not two).
func (p *Pipeline) batchInput(ctx context.Context, runID string, ph *store.Phase, n int) (*store.Prompt, []dataset.Example, error) {
	var (
		prompt           *store.Prompt
		examples         []dataset.Example
		promptErr, exErr error
	)
	var rd sync.WaitGroup
	rd.Go(func() { prompt, promptErr = p.store.GetPrompt(ctx, runID, ph.PromptID) })
	rd.Go(func() {
		rc, err := p.blob.Open(ctx, p.cfg.ArtifactsBucket, blob.DataPath(runID, ph.Split, n), 0)
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
		return nil, nil, fmt.Errorf("pipeline.scoreBatch: %w", promptErr)
	}
	return prompt, examples, exErr
}

// answerAll answers every example, limits.concurrency at a time. The first
// transient failure dooms the batch (it is redelivered whole): it cancels
// the calls still to come, which are not paid for.
func (p *Pipeline) answerAll(ctx context.Context, start time.Time, model Generator, metric eval.Metric, prompt *store.Prompt,
	cfg config.Run, examples []dataset.Example, n int) ([]Result, error) {
	if p.cfg.BatchTimeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, p.cfg.BatchTimeout-time.Since(start))
		defer stop()
	}
	results := make([]Result, len(examples))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, cfg.Limits.Concurrency))
	launched := 0
	for i, ex := range examples {
		if gctx.Err() != nil {
			break
		}
		launched++
		g.Go(func() error {
			res, err := p.answer(gctx, model, metric, prompt, cfg, ex)
			if err != nil {
				return err
			}
			res.Batch = n
			results[i] = res
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if launched < len(examples) {
		return nil, ctx.Err() // the batch's time ran out before every example started
	}
	return results, nil
}

// recordFailedAttempt adds the calls a failed attempt paid for to the run:
// they are on no batch document, and the run's spend (and the budget) must
// count them. (The redelivery finds them in the response cache.)
func (p *Pipeline) recordFailedAttempt(ctx context.Context, runID string, meter *llm.Meter) {
	paid := meter.Total()
	if paid.Calls == 0 {
		return
	}
	by := usageByModel(meter)
	for k, u := range by {
		u.Errors = 0 // the batch's errors are counted when it succeeds
		by[k] = u
	}
	u := usageOf(paid)
	u.Errors = 0
	if err := p.store.AddRunUsage(context.WithoutCancel(ctx), runID, u, by); err != nil {
		logging.FromContext(ctx).Warn("usage of a failed batch attempt not recorded", "error", err.Error())
	}
}

// tally counts a batch's results into its document and encodes them, one
// JSON line each. Errors are the examples without a score (not the
// model's failed calls, which the meter's by-model tallies keep).
func tally(n int, results []Result, meter *llm.Meter) (store.Batch, []byte, error) {
	b := store.Batch{N: n, Examples: len(results), Usage: usageOf(meter.Total()), UsageByModel: usageByModel(meter)}
	b.Usage.Errors = 0
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, res := range results {
		if err := enc.Encode(res); err != nil {
			return store.Batch{}, nil, err
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
	return b, buf.Bytes(), nil
}

// answer calls the primary model for one example and scores the answer. It
// returns an error only for a transient failure that retries did not fix;
// permanent failures are recorded on the result.
func (p *Pipeline) answer(ctx context.Context, model Generator, metric eval.Metric, prompt *store.Prompt, cfg config.Run, ex dataset.Example) (Result, error) {
	req, user, err := PrimaryRequest(prompt, cfg.Prompt.UserTemplate(), cfg.Primary, ex.Variables())
	if err != nil {
		return Result{}, errs.Invalid(fmt.Errorf("row %d: %w", ex.Row, err))
	}
	res := Result{ID: ex.ID, Row: ex.Row, Input: user, Vars: ex.Vars, Expected: ex.GroundTruth}
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
	s, err := metric.Score(eval.WithInput(ctx, user), resp.Text, ex.GroundTruth)
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
			return Result{}, errs.Invalid(fmt.Errorf("scoring: %w", err))
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
