package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/promptml/promptml/shared/blob"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/dataset"
	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/fault"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/logging"
	"github.com/promptml/promptml/shared/optimize"
	"github.com/promptml/promptml/shared/queue"
	"github.com/promptml/promptml/shared/store"
)

// Aggregate handles a phase-done message: it summarizes the phase once, then
// advances the run's state machine as far as finished phases allow.
// holder identifies this invocation (unique per delivery attempt), so two
// concurrent deliveries of one message never both hold a lease. A permanent
// error fails the run.
func (p *Pipeline) Aggregate(ctx context.Context, msg queue.PhaseDoneMessage, holder string) error {
	ctx = logging.With(ctx, "run_id", msg.RunID, "phase_id", msg.PhaseID)
	return p.failOnPermanent(ctx, msg.RunID, p.aggregate(ctx, msg, holder))
}

func (p *Pipeline) aggregate(ctx context.Context, msg queue.PhaseDoneMessage, holder string) error {
	r, err := p.Store.GetRun(ctx, msg.RunID)
	if err != nil {
		return fmt.Errorf("pipeline.Aggregate: %w", err)
	}
	if r.Terminal() {
		return nil
	}
	ph, claimed, err := p.Store.ClaimPhase(ctx, msg.RunID, msg.PhaseID, holder, p.lease())
	if err != nil {
		return fmt.Errorf("pipeline.Aggregate: %w", err)
	}
	if claimed {
		if err := p.finishPhase(ctx, r, ph); err != nil {
			// Let the redelivery retry at once rather than after the lease.
			if rerr := p.Store.ReleasePhase(context.WithoutCancel(ctx), msg.RunID, msg.PhaseID, holder); rerr != nil {
				logging.FromContext(ctx).Warn("phase lease not released", "error", rerr.Error())
			}
			return err
		}
	} else if ph.State == store.PhaseRunning {
		// Another delivery is summarizing it.
		return ErrBusy
	} else if ph.State != store.PhaseDone {
		// Not complete: a stray message; the last batch triggers it.
		return nil
	}
	return p.advance(ctx, msg.RunID, holder)
}

// score is "the score" of a phase for the gate and early stopping: the
// statistic early_stopping.metric names.
func score(s *eval.Summary, cfg config.Run) float64 {
	if s == nil {
		return 0
	}
	if cfg.EarlyStopping.Metric == "pass_rate" {
		return s.PassRate
	}
	return s.Mean
}

func (p *Pipeline) finishPhase(ctx context.Context, r *store.Run, ph *store.Phase) error {
	cfg, err := runConfig(r)
	if err != nil {
		return err
	}
	results, batches, err := p.readResults(ctx, r.ID, ph)
	if err != nil {
		return err
	}
	outcomes := make([]eval.Outcome, len(results))
	var preds, refs []string
	for i, res := range results {
		if res.Score == nil {
			outcomes[i] = eval.Outcome{Err: res.Error}
			continue
		}
		outcomes[i] = eval.Outcome{Value: *res.Score}
		preds, refs = append(preds, res.Actual), append(refs, res.Expected)
	}
	metric, err := scoringMetric(cfg)
	if err != nil {
		return err
	}
	sum := eval.SummarizeOutcomes(outcomes, eval.Threshold(metric))
	done := store.Phase{Metrics: &sum}
	for _, b := range batches {
		done.Usage = done.Usage.Add(b.Usage)
		done.UsageByModel = addByModel(done.UsageByModel, b.UsageByModel)
	}
	if v, ok, err := eval.Corpus(metric, preds, refs); err == nil && ok {
		done.Corpus = &v
	}
	// Everything derived from the phase is written before it is marked done:
	// a redelivery skips a done phase, so nothing after FinishPhase would be
	// retried. Each of these writes is idempotent.
	if err := p.Store.UpdatePrompt(ctx, r.ID, ph.PromptID, map[string]any{"scores": map[string]any{ph.Split: sum}}); err != nil {
		return err
	}
	msg := fmt.Sprintf("Scored prompt %s on %s: mean %.3f, pass rate %.3f (95%% CI %.3f–%.3f) over %d examples",
		ph.PromptID, ph.Split, sum.Mean, sum.PassRate, sum.CILow, sum.CIHigh, sum.N)
	if sum.Errors > 0 {
		msg += fmt.Sprintf(", %d errors not scored", sum.Errors)
	}
	p.event(ctx, r.ID, "phase-done/"+ph.ID, store.Event{Kind: "phase", Message: msg + ".", Epoch: r.Epoch, PhaseID: ph.ID,
		Data: map[string]any{"split": ph.Split, "prompt_id": ph.PromptID, "mean": sum.Mean, "pass_rate": sum.PassRate}})
	p.reportPhase(ctx, r.ID, ph, results)
	p.reportModelUsage(ctx, r.ID, "phase", ph.ID, done.UsageByModel)
	if err := p.fault(ctx, fault.AggregateAfterSummary, ph.ID); err != nil {
		return err
	}
	return p.Store.FinishPhase(ctx, r.ID, ph.ID, done)
}

// step is the next state of a run, applied in one transaction.
type step struct {
	Stage      string
	Pending    []string
	Epoch      int
	Stale      int
	Incumbent  string
	BestVal    float64
	InitialVal *float64
	AddUsage   store.Usage
	// AddByModel splits AddUsage by model key.
	AddByModel map[string]store.Usage
	Test       *store.TestResult
	Finished   bool
	// Exhausted ends the run budget_exhausted instead of succeeded
	// (budget.go).
	Exhausted bool
}

// apply moves r to the step's state. The committing invocation keeps the
// run lease until its fan-out is published (SetPublished clears it), so no
// other delivery republishes the new stage meanwhile.
func (st *step) apply(r *store.Run, lease *store.Lease) {
	r.Stage, r.StageSeq, r.Pending = st.Stage, r.StageSeq+1, st.Pending
	r.Epoch, r.StaleEpochs = st.Epoch, st.Stale
	r.IncumbentID, r.BestVal = st.Incumbent, st.BestVal
	if st.InitialVal != nil {
		r.InitialVal = *st.InitialVal
	}
	r.Usage = r.Usage.Add(st.AddUsage)
	if len(st.AddByModel) > 0 {
		r.UsageByModel = addByModel(r.UsageByModel, st.AddByModel)
	}
	if st.Test != nil {
		r.Test = st.Test
	}
	r.Lease = lease
	if st.Finished {
		r.Lease = nil
		r.Status = store.StatusSucceeded
		if st.Exhausted {
			r.Status = store.StatusBudgetExhausted
		}
		r.FinishedAt = time.Now()
	}
}

// advance moves the run through every stage whose phases are all done. The
// stage lease makes the transition exclusive: a concurrent duplicate gets
// ErrBusy and is retried later.
func (p *Pipeline) advance(ctx context.Context, runID, holder string) error {
	for {
		r, err := p.Store.GetRun(ctx, runID)
		if err != nil {
			return fmt.Errorf("pipeline.advance: %w", err)
		}
		if r.Terminal() || r.Stage == store.StageIntake {
			return nil
		}
		allDone := true
		for _, id := range r.Pending {
			ph, err := p.Store.GetPhase(ctx, runID, id)
			if err != nil {
				return fmt.Errorf("pipeline.advance: %w", err)
			}
			if ph.State != store.PhaseDone {
				allDone = false
				break
			}
		}
		if !allDone {
			if r.PublishedSeq < r.StageSeq {
				// The transition committed but its fan-out is not
				// recorded: it is under way (the committer holds the lease
				// until it is), or was lost with a crashed committer.
				return p.resumeFanOut(ctx, runID, r.StageSeq, holder)
			}
			return nil
		}
		seq := r.StageSeq
		over := func(cur *store.Run) bool { return cur.Terminal() || cur.StageSeq != seq }
		claimed, err := p.leaseStage(ctx, runID, holder, over)
		if err != nil {
			return err
		}
		if over(claimed) {
			continue // someone else advanced it: look at the new stage
		}
		if claimed.Lease == nil || claimed.Lease.Holder != holder {
			return ErrBusy // someone else is advancing this stage
		}
		cfg, err := runConfig(r)
		if err != nil {
			return err
		}
		st, err := p.next(ctx, r, cfg)
		if err == nil {
			// Budget hook: a stage whose phases would cross the budget is
			// not published; the run ends with the best prompt so far.
			err = p.checkStageBudget(ctx, r, cfg, st)
		}
		if err == nil {
			err = p.fault(ctx, fault.AggregateAfterNext, stageKey(runID, seq))
		}
		if err != nil {
			p.releaseStage(context.WithoutCancel(ctx), runID, holder, seq)
			return err
		}
		committed, err := p.Store.UpdateRun(ctx, runID, func(cur *store.Run) error {
			if cur.StageSeq != seq || cur.Terminal() {
				return store.ErrSkip
			}
			st.apply(cur, &store.Lease{Holder: holder, Expires: time.Now().Add(p.lease())})
			return nil
		})
		if err != nil {
			return err
		}
		if committed.StageSeq != seq+1 {
			return nil
		}
		p.reportRun(ctx, committed)
		if committed.Terminal() {
			return nil
		}
		err = p.fault(ctx, fault.AggregateAfterCommit, stageKey(runID, seq+1))
		if err == nil {
			err = p.fanOut(ctx, committed)
		}
		if err != nil {
			p.releaseStage(context.WithoutCancel(ctx), runID, holder, seq+1)
			return err
		}
	}
}

// releaseStage clears the run lease if holder still holds it at seq, so the
// redelivery of a failed transition need not wait for the lease to expire.
func (p *Pipeline) releaseStage(ctx context.Context, runID, holder string, seq int) {
	_, err := p.Store.UpdateRun(ctx, runID, func(r *store.Run) error {
		if r.StageSeq != seq || r.Lease == nil || r.Lease.Holder != holder {
			return store.ErrSkip
		}
		r.Lease = nil
		return nil
	})
	if err != nil {
		logging.FromContext(ctx).Warn("stage lease not released", "error", err.Error())
	}
}

// next computes the transition out of the run's current stage, whose
// phases are all done. It writes prompts, phases and epochs idempotently; the
// run itself changes only when the caller commits the step.
func (p *Pipeline) next(ctx context.Context, r *store.Run, cfg config.Run) (*step, error) {
	st := &step{Stage: r.Stage, Epoch: r.Epoch, Stale: r.StaleEpochs, Incumbent: r.IncumbentID, BestVal: r.BestVal}
	switch r.Stage {
	case store.StageBaseline:
		val, err := p.Store.GetPhase(ctx, r.ID, PhaseID(dataset.Val, r.InitialPromptID))
		if err != nil {
			return nil, err
		}
		train, err := p.Store.GetPhase(ctx, r.ID, PhaseID(dataset.Train, r.InitialPromptID))
		if err != nil {
			return nil, err
		}
		v := score(val.Metrics, cfg)
		st.InitialVal, st.BestVal = &v, v
		p.event(ctx, r.ID, "baseline", store.Event{Kind: "baseline", Message: fmt.Sprintf(
			"Baseline: the initial prompt scores %.3f on train and %.3f on val. This is the bar every candidate must beat.",
			score(train.Metrics, cfg), v)})
		return st, p.continueOrTest(ctx, r, cfg, st)
	case store.StageCandidates:
		return st, p.gate(ctx, r, cfg, st)
	case store.StageIncumbentTrain:
		ep, ok, err := p.Store.GetEpoch(ctx, r.ID, r.Epoch)
		if err != nil || !ok {
			return nil, fmt.Errorf("pipeline.next: epoch %d: %v", r.Epoch, err)
		}
		train, err := p.Store.GetPhase(ctx, r.ID, PhaseID(dataset.Train, r.IncumbentID))
		if err != nil {
			return nil, err
		}
		t := score(train.Metrics, cfg)
		ep.NewIncumbentTrain = &t
		if err := p.Store.PutEpoch(ctx, r.ID, ep); err != nil {
			return nil, err
		}
		return st, p.continueOrTest(ctx, r, cfg, st)
	case store.StageTest:
		return st, p.finish(ctx, r, cfg, st)
	}
	return nil, &PermanentError{Err: fmt.Errorf("run %s in unknown stage %q", r.ID, r.Stage)}
}

// continueOrTest starts the next epoch, or the test stage when training is
// over.
func (p *Pipeline) continueOrTest(ctx context.Context, r *store.Run, cfg config.Run, st *step) error {
	var why string
	switch {
	case st.Epoch >= cfg.Epochs:
		why = fmt.Sprintf("Training done: reached the configured %d epochs.", cfg.Epochs)
	case cfg.EarlyStopping.Patience > 0 && st.Stale >= cfg.EarlyStopping.Patience:
		why = fmt.Sprintf("Early stopping: no improvement for %d epochs (patience %d).", st.Stale, cfg.EarlyStopping.Patience)
	case st.BestVal >= 1:
		why = "Training done: the incumbent is perfect on val."
	}
	if why == "" {
		return p.startEpoch(ctx, r, cfg, st, st.Epoch+1)
	}
	p.event(ctx, r.ID, fmt.Sprintf("stop/%d", st.Epoch), store.Event{Kind: "progress", Message: why, Epoch: st.Epoch})
	if r.Dataset.Counts[dataset.Test] == 0 {
		return p.finish(ctx, r, cfg, st)
	}
	ids := []string{r.InitialPromptID}
	if st.Incumbent != r.InitialPromptID {
		ids = append(ids, st.Incumbent)
	}
	st.Stage, st.Pending = store.StageTest, nil
	for _, id := range ids {
		ph, err := p.Store.EnsurePhase(ctx, r.ID, &store.Phase{ID: PhaseID(dataset.Test, id), Split: dataset.Test, PromptID: id,
			TotalBatches: r.Dataset.Batches[dataset.Test]})
		if err != nil {
			return err
		}
		st.Pending = append(st.Pending, ph.ID)
	}
	p.event(ctx, r.ID, "test-start", store.Event{Kind: "progress", Message: "Scoring the initial and the best prompt once on the locked test split."})
	return nil
}

// startEpoch asks the optimizer for candidates and schedules their
// validation. The proposals are stored on the epoch before the transition
// commits, so a retried transition reuses them instead of paying again.
func (p *Pipeline) startEpoch(ctx context.Context, r *store.Run, cfg config.Run, st *step, n int) error {
	ep, ok, err := p.Store.GetEpoch(ctx, r.ID, n)
	if err != nil {
		return err
	}
	if !ok {
		// Budget hook: an epoch that cannot be afforded is not proposed.
		if stop, err := p.epochOverBudget(ctx, r, cfg, st, n); stop || err != nil {
			return err
		}
		if ep, err = p.propose(ctx, r, cfg, st, n); err != nil {
			return err
		}
	}
	if err := p.materialize(ctx, r, cfg, ep); err != nil {
		return err
	}
	st.Stage, st.Epoch, st.Pending = store.StageCandidates, n, nil
	st.AddUsage = st.AddUsage.Add(ep.Usage)
	st.AddByModel = addByModel(st.AddByModel, map[string]store.Usage{cfg.Optimizer.Model.Key(): ep.Usage})
	for _, c := range ep.Candidates {
		if c.Status != store.PromptCandidate {
			continue
		}
		ph, err := p.Store.EnsurePhase(ctx, r.ID, &store.Phase{ID: PhaseID(dataset.Val, c.PromptID), Split: dataset.Val,
			PromptID: c.PromptID, TotalBatches: r.Dataset.Batches[dataset.Val]})
		if err != nil {
			return err
		}
		st.Pending = append(st.Pending, ph.ID)
	}
	return nil
}

func (p *Pipeline) propose(ctx context.Context, r *store.Run, cfg config.Run, st *step, n int) (*store.Epoch, error) {
	log := logging.FromContext(ctx)
	inc, err := p.Store.GetPrompt(ctx, r.ID, st.Incumbent)
	if err != nil {
		return nil, err
	}
	trainPh, err := p.Store.GetPhase(ctx, r.ID, PhaseID(dataset.Train, st.Incumbent))
	if err != nil {
		return nil, err
	}
	results, _, err := p.readResults(ctx, r.ID, trainPh)
	if err != nil {
		return nil, err
	}
	scored := make([]optimize.Scored, len(results))
	for i, res := range results {
		scored[i] = optimize.Scored{Input: res.Input, Expected: res.Expected, Actual: res.Actual, Failed: res.Score == nil}
		if res.Score != nil {
			scored[i].Score = *res.Score
		}
	}
	metric, err := scoringMetric(cfg)
	if err != nil {
		return nil, err
	}
	epochs, err := p.Store.ListEpochs(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	strategy, why := resolveStrategy(cfg, epochs)
	history, err := p.history(ctx, r.ID, epochs, cfg.Optimizer.History)
	if err != nil {
		return nil, err
	}
	model, err := p.model(ctx, cfg, cfg.Optimizer.Model, nil)
	if err != nil {
		return nil, &PermanentError{Err: err}
	}
	truths, err := p.heldOutTruths(ctx, r)
	if err != nil {
		return nil, err
	}
	guard := optimize.NewGuard(guardConfig(cfg), truths)
	trainSum := trainPh.Metrics
	if trainSum == nil {
		trainSum = &eval.Summary{}
	}
	data := optimize.Data{
		Strategy:     strategy,
		SystemPrompt: inc.System,
		OutputPrompt: inc.Output,
		Examples:     fromDemos(inc.Examples),
		Metrics:      optimize.Metrics{Metric: metricName(cfg), Mean: trainSum.Mean, PassRate: trainSum.PassRate, N: trainSum.N},
		Failures:     optimize.SelectFailures(scored, eval.Threshold(metric), cfg.Optimizer.MaxFailures),
		History:      history,
		Epoch:        n,
	}
	if strategy == optimize.StrategyFewShot {
		// Demonstrations come from the training split only: the pool is
		// built from the incumbent's train results.
		data.Pool = optimize.SelectPool(scored, data.Examples, eval.Threshold(metric), cfg.Optimizer.FewShot.Pool)
		data.MaxDemos = cfg.Optimizer.FewShot.MaxDemos
	}
	if why != "" {
		log.Info("strategy chosen", "epoch", n, "strategy", strategy, "reason", why)
	}
	ep := &store.Epoch{N: n, IncumbentID: inc.ID, IncumbentTrain: score(trainPh.Metrics, cfg), IncumbentVal: st.BestVal,
		Candidates: []store.EpochCandidate{}, StartedAt: time.Now(), Strategy: strategy}
	earlier := earlierCandidates(epochs)
	seen := map[string]bool{inc.ID: true}
	var failures []string
	for c := 0; c < cfg.Candidates; c++ {
		data.Candidate = c
		var u store.Usage
		cand, perr := p.proposeOnce(ctx, model, cfg, data, &u)
		ep.Usage = ep.Usage.Add(u)
		if perr != nil {
			if llm.ModelUnavailable(perr) {
				// Every proposal would fail the same way: the run fails now
				// rather than running its epochs without an optimizer.
				return nil, modelFailed("optimizer", "optimizer.model.name", "PROMPTML_OPTIMIZER_MODEL", cfg.Optimizer.Model, perr)
			}
			if !proposalFailed(perr) {
				return nil, perr // transient: the lease is released and the redelivery retries
			}
			log.Warn("optimizer gave no usable proposal", "epoch", n, "candidate", c, "error", perr.Error())
			failures = append(failures, perr.Error())
			continue
		}
		demos := toDemos(cand.Examples)
		id := PromptID(cand.System, cand.Output, demos)
		ec := store.EpochCandidate{PromptID: id, Status: store.PromptCandidate, System: cand.System, Output: cand.Output,
			Examples: demos, Reasoning: cand.Reasoning, Tries: cand.Tries}
		switch {
		case id == inc.ID:
			ec.Status, ec.Note = store.DecisionNoChange, "identical to the incumbent"
		case seen[id]:
			ec.Status, ec.Note = store.DecisionNoChange, "identical to another candidate of this epoch"
		case earlier[id] != "":
			ec.Status, ec.Note = store.DecisionNoChange, "identical to "+earlier[id]+": not scored again"
		default:
			if reason := guard.Check(inc.System, inc.Output, cand); reason != "" {
				ec.Status, ec.Note = store.DecisionBlocked, reason
			}
		}
		seen[id] = true
		ep.Candidates = append(ep.Candidates, ec)
	}
	if len(ep.Candidates) == 0 {
		ep.Decision = store.DecisionOptimizerFailed
		ep.Note = strings.Join(failures, "; ")
	}
	// The first stored proposals of an epoch are the ones it keeps, so a
	// concurrent or retried proposal never leaves prompts or events behind.
	return p.Store.CreateEpoch(ctx, r.ID, ep)
}

// proposalFailed reports whether a proposal error ends that candidate (an
// unparsable reply after the tries, a permanent model error such as a
// safety block or a bad request) rather than calling for a retry.
func proposalFailed(err error) bool {
	var pe *optimize.ParseError
	var le *llm.Error
	return errors.As(err, &pe) || IsPermanent(err) || (errors.As(err, &le) && le.Kind == llm.Permanent)
}

// materialize creates the prompt versions and the events of an epoch's
// stored proposals; every write is create-once, so it is safe to repeat.
func (p *Pipeline) materialize(ctx context.Context, r *store.Run, cfg config.Run, ep *store.Epoch) error {
	if ep.Decision == store.DecisionOptimizerFailed {
		p.event(ctx, r.ID, fmt.Sprintf("optimizer-failed/%d", ep.N), store.Event{Kind: "optimizer", Epoch: ep.N,
			Message: fmt.Sprintf("Epoch %d: the optimizer gave no usable proposal (%s); the epoch is skipped.", ep.N, ep.Note)})
		return nil
	}
	inc, err := p.Store.GetPrompt(ctx, r.ID, ep.IncumbentID)
	if err != nil {
		return err
	}
	for c, ec := range ep.Candidates {
		if ec.Status == store.PromptCandidate {
			demos := ec.Examples
			if demos == nil {
				demos = []store.Demo{}
			}
			cand := &store.Prompt{ID: ec.PromptID, System: ec.System, Output: ec.Output, Examples: demos,
				Parent: inc.ID, Epoch: ep.N, Candidate: c, Strategy: ep.Strategy, Reasoning: ec.Reasoning,
				Status: store.PromptCandidate, Scores: map[string]eval.Summary{}}
			if err := p.Store.PutPrompt(ctx, r.ID, cand); err != nil {
				return err
			}
		}
		msg := fmt.Sprintf("Epoch %d, candidate %d (%s, %s): %s", ep.N, c+1, ep.Strategy, ec.PromptID, ec.Reasoning)
		if ec.Note != "" {
			msg += " [" + ec.Note + "]"
		}
		p.event(ctx, r.ID, fmt.Sprintf("proposal/%d/%d", ep.N, c), store.Event{Kind: "optimizer", Epoch: ep.N, Message: msg,
			Data: map[string]any{"prompt_id": ec.PromptID, "system_prompt": ec.System, "output_prompt": ec.Output,
				"examples": len(ec.Examples), "strategy": ep.Strategy, "status": ec.Status, "tries": ec.Tries}})
	}
	return nil
}

// proposeOnce asks for one candidate; unparsable or invalid replies are asked
// again with the error shown, up to optimizer.max_tries.
func (p *Pipeline) proposeOnce(ctx context.Context, model Generator, cfg config.Run, data optimize.Data, u *store.Usage) (optimize.Candidate, error) {
	// The model (an *llm.Client) retries transient errors like the
	// primary's; metered counts this proposal's calls.
	rm := metered{g: model, usage: u}
	cand, _, err := optimize.Propose(ctx, rm, optimize.Request{
		MetaPrompt: cfg.Optimizer.MetaPrompt, Model: cfg.Optimizer.Model.Name,
		Temperature: cfg.Optimizer.Model.Temperature, MaxOutputTokens: cfg.Optimizer.Model.MaxOutputTokens,
		Thinking: cfg.Optimizer.Model.Thinking(), MaxTries: cfg.Optimizer.MaxTries, Data: data,
		OnRetry: func(try int, perr *optimize.ParseError) {
			logging.FromContext(ctx).Warn("optimizer reply rejected; asking again with the error shown",
				"strategy", data.Strategy, "candidate", data.Candidate, "try", try, "error", perr.Error())
		},
	})
	return cand, err
}

// history lists the last size scored candidates of earlier epochs with their
// val scores, worst to best (OPRO's trajectory). Blocked and unscored
// candidates have no score and are left out.
func (p *Pipeline) history(ctx context.Context, runID string, epochs []*store.Epoch, size int) ([]optimize.HistoryEntry, error) {
	if size <= 0 {
		return nil, nil
	}
	var out []optimize.HistoryEntry
	for _, e := range epochs {
		for _, c := range e.Candidates {
			if c.Status != store.PromptAccepted && c.Status != store.PromptRejected {
				continue
			}
			pr, err := p.Store.GetPrompt(ctx, runID, c.PromptID)
			if err != nil {
				return nil, err
			}
			out = append(out, optimize.HistoryEntry{SystemPrompt: pr.System, OutputPrompt: pr.Output, Demos: len(pr.Examples),
				Strategy: pr.Strategy, ValScore: c.Val, Accepted: c.Status == store.PromptAccepted})
		}
	}
	// The most recent size candidates (epochs are listed in order), shown
	// worst to best.
	if len(out) > size {
		out = out[len(out)-size:]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ValScore < out[j].ValScore })
	return out, nil
}

// scoringMetric builds the run's metric without model dependencies: enough
// for its pass threshold and its corpus-level value, which need no calls.
func scoringMetric(cfg config.Run) (eval.Metric, error) {
	m, err := eval.Build(cfg.Metrics, eval.Deps{})
	if err != nil {
		return nil, &PermanentError{Err: err}
	}
	return m, nil
}

func metricName(cfg config.Run) string {
	names := make([]string, len(cfg.Metrics))
	for i, m := range cfg.Metrics {
		names[i] = m.Name
	}
	return strings.Join(names, "+")
}

// gate decides the epoch: the best candidate is accepted only if it beats
// the incumbent's val score by more than gate.min_delta.
func (p *Pipeline) gate(ctx context.Context, r *store.Run, cfg config.Run, st *step) error {
	ep, ok, err := p.Store.GetEpoch(ctx, r.ID, r.Epoch)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("pipeline.gate: epoch %d missing", r.Epoch)
	}
	best := -1
	valErrors := map[int]int{} // candidate index → val examples without a score
	for i := range ep.Candidates {
		c := &ep.Candidates[i]
		if c.Status != store.PromptCandidate && c.Status != store.PromptAccepted && c.Status != store.PromptRejected {
			continue
		}
		ph, err := p.Store.GetPhase(ctx, r.ID, PhaseID(dataset.Val, c.PromptID))
		if err != nil {
			return err
		}
		c.Val = score(ph.Metrics, cfg)
		if ph.Metrics != nil {
			valErrors[i] = ph.Metrics.Errors
		}
		if best < 0 || c.Val > ep.Candidates[best].Val {
			best = i
		}
	}
	incVal := st.BestVal
	var msg, testNote string
	switch {
	case best < 0:
		if ep.Decision == "" {
			ep.Decision = store.DecisionNoChange
		}
		st.Stale++
		msg = fmt.Sprintf("Epoch %d: no new candidate to score (%s).", r.Epoch, ep.Decision)
		for i, c := range ep.Candidates {
			if c.Status == store.DecisionBlocked {
				msg += fmt.Sprintf(" Candidate %d was blocked: %s.", i+1, c.Note)
			}
		}
	default:
		b := &ep.Candidates[best]
		ep.BestCandidate, ep.BestVal = b.PromptID, b.Val
		ep.Delta = b.Val - incVal
		ep.GateTest = cfg.Gate.Test
		if ep.GateTest == "" {
			ep.GateTest = "none"
		}
		ep.Decision = store.DecisionRejected
		incErrors, err := p.valErrors(ctx, r.ID, st.Incumbent)
		if err != nil {
			return err
		}
		switch {
		case valErrors[best] > incErrors:
			// Scores leave errored examples out, so a prompt that makes the
			// model refuse (safety blocks) on hard examples would look
			// better by failing to answer them.
			testNote = fmt.Sprintf("; the candidate got no score on %d val examples vs the incumbent's %d", valErrors[best], incErrors)
		case ep.Delta > cfg.Gate.MinDelta:
			// The paired test runs only when the margin is met: it asks
			// whether that improvement is more than luck.
			gr, err := p.pairedTest(ctx, r, cfg, st.Incumbent, b.PromptID)
			if err != nil {
				return err
			}
			ep.PValue, testNote = gr.P, gr.describe(cfg)
			if gr.P == nil || *gr.P <= cfg.Gate.Alpha {
				ep.Decision = store.DecisionAccepted
			}
		}
		for i := range ep.Candidates {
			c := &ep.Candidates[i]
			if c.Status == store.DecisionNoChange || c.Status == store.DecisionBlocked {
				continue
			}
			c.Status = store.PromptRejected
			if i == best && ep.Decision == store.DecisionAccepted {
				c.Status = store.PromptAccepted
			}
			if err := p.Store.UpdatePrompt(ctx, r.ID, c.PromptID, map[string]any{"status": c.Status}); err != nil {
				return err
			}
		}
		msg = fmt.Sprintf("Epoch %d: best candidate %s scores %.3f on val vs the incumbent's %.3f (Δ %+.3f, min_delta %.3f%s): %s.",
			r.Epoch, b.PromptID, b.Val, incVal, ep.Delta, cfg.Gate.MinDelta, testNote, ep.Decision)
		if ep.Decision == store.DecisionAccepted {
			if ep.Delta > cfg.EarlyStopping.MinDelta {
				st.Stale = 0
			} else {
				st.Stale++
			}
			st.Incumbent, st.BestVal = b.PromptID, b.Val
		} else {
			st.Stale++
		}
	}
	ep.FinishedAt = time.Now()
	if err := p.Store.PutEpoch(ctx, r.ID, ep); err != nil {
		return err
	}
	p.event(ctx, r.ID, fmt.Sprintf("gate/%d", r.Epoch), store.Event{Kind: "decision", Epoch: r.Epoch, Message: msg,
		Data: gateEventData(ep)})
	p.reportEpoch(ctx, r.ID, ep)
	p.reportModelUsage(ctx, r.ID, "optimizer", fmt.Sprint(ep.N), map[string]store.Usage{cfg.Optimizer.Model.Key(): ep.Usage})
	if ep.Decision == store.DecisionAccepted {
		ph, err := p.Store.EnsurePhase(ctx, r.ID, &store.Phase{ID: PhaseID(dataset.Train, st.Incumbent), Split: dataset.Train,
			PromptID: st.Incumbent, TotalBatches: r.Dataset.Batches[dataset.Train]})
		if err != nil {
			return err
		}
		if ph.State != store.PhaseDone {
			// The next epoch learns from the new incumbent's train failures.
			st.Stage, st.Pending = store.StageIncumbentTrain, []string{ph.ID}
			return nil
		}
		t := score(ph.Metrics, cfg)
		ep.NewIncumbentTrain = &t
		if err := p.Store.PutEpoch(ctx, r.ID, ep); err != nil {
			return err
		}
	}
	return p.continueOrTest(ctx, r, cfg, st)
}

// valErrors is the number of val examples a prompt got no score on.
func (p *Pipeline) valErrors(ctx context.Context, runID, promptID string) (int, error) {
	ph, err := p.Store.GetPhase(ctx, runID, PhaseID(dataset.Val, promptID))
	if err != nil {
		return 0, err
	}
	if ph.Metrics == nil {
		return 0, nil
	}
	return ph.Metrics.Errors, nil
}

// finish records the test scores, exports the best prompt and ends the run.
func (p *Pipeline) finish(ctx context.Context, r *store.Run, cfg config.Run, st *step) error {
	best, err := p.Store.GetPrompt(ctx, r.ID, st.Incumbent)
	if err != nil {
		return err
	}
	if r.Dataset.Counts[dataset.Test] > 0 {
		tr := &store.TestResult{InitialPromptID: r.InitialPromptID, BestPromptID: st.Incumbent}
		for _, x := range []struct {
			id  string
			dst *eval.Summary
		}{{r.InitialPromptID, &tr.Initial}, {st.Incumbent, &tr.Best}} {
			ph, err := p.Store.GetPhase(ctx, r.ID, PhaseID(dataset.Test, x.id))
			if err != nil {
				return err
			}
			if ph.Metrics != nil {
				*x.dst = *ph.Metrics
			}
		}
		st.Test = tr
	}
	if err := p.Export(ctx, r, best); err != nil {
		return err
	}
	st.Stage, st.Pending, st.Finished = store.StageDone, nil, true
	msg := fmt.Sprintf("Run succeeded: val %.3f → %.3f with prompt %s.", initialVal(r, st), st.BestVal, st.Incumbent)
	if st.Test != nil {
		msg += fmt.Sprintf(" Test: initial %.3f, best %.3f (95%% CI %.3f–%.3f).", st.Test.Initial.Mean, st.Test.Best.Mean, st.Test.Best.CILow, st.Test.Best.CIHigh)
	}
	p.event(ctx, r.ID, "succeeded", store.Event{Kind: "succeeded", Message: msg, Epoch: st.Epoch})
	return nil
}

func initialVal(r *store.Run, st *step) float64 {
	if st.InitialVal != nil {
		return *st.InitialVal
	}
	return r.InitialVal
}

// ExportedPrompt is prompt.json of an export.
type ExportedPrompt struct {
	RunID        string                  `json:"run_id"`
	PromptID     string                  `json:"prompt_id"`
	Parent       string                  `json:"parent,omitempty"`
	Epoch        int                     `json:"epoch"`
	SystemPrompt string                  `json:"system_prompt"`
	OutputPrompt string                  `json:"output_prompt"`
	Examples     []store.Demo            `json:"examples"`
	Scores       map[string]eval.Summary `json:"scores"`
}

// Export writes a prompt's system.txt, output.txt and prompt.json under
// runs/{run}/export/.
func (p *Pipeline) Export(ctx context.Context, r *store.Run, pr *store.Prompt) error {
	js, err := json.MarshalIndent(ExportedPrompt{RunID: r.ID, PromptID: pr.ID, Parent: pr.Parent, Epoch: pr.Epoch,
		SystemPrompt: pr.System, OutputPrompt: pr.Output, Examples: pr.Examples, Scores: pr.Scores}, "", "  ")
	if err != nil {
		return fmt.Errorf("pipeline.Export: %w", err)
	}
	for name, data := range map[string][]byte{"system.txt": []byte(pr.System), "output.txt": []byte(pr.Output), "prompt.json": js} {
		ct := "text/plain; charset=utf-8"
		if strings.HasSuffix(name, ".json") {
			ct = "application/json"
		}
		if err := p.Blob.Write(ctx, p.ArtifactsBucket, blob.ExportPath(r.ID, name), ct, data); err != nil {
			return err
		}
	}
	return nil
}
