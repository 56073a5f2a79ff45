package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/dataset"
	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/logging"
	"github.com/promptml/promptml/shared/optimize"
	"github.com/promptml/promptml/shared/store"
)

// propose asks the optimizer for the candidates of epoch n, starting from
// st's incumbent, and stores them on the epoch (created once: the first
// stored proposals are the ones the epoch keeps, so a concurrent or retried
// proposal never leaves prompts or events behind).
func (p *Pipeline) propose(ctx context.Context, t turn, st step, n int) (*store.Epoch, error) {
	r, cfg := t.run, t.cfg
	inc, err := p.store.GetPrompt(ctx, r.ID, st.Incumbent)
	if err != nil {
		return nil, err
	}
	epochs, err := p.store.ListEpochs(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	data, trainScore, err := p.optimizerData(ctx, t, inc, epochs, n)
	if err != nil {
		return nil, err
	}
	model, err := p.model(ctx, cfg, cfg.Optimizer.Model)
	if err != nil {
		return nil, errs.Invalid(err)
	}
	truths, err := p.heldOutTruths(ctx, r)
	if err != nil {
		return nil, err
	}
	ep := &store.Epoch{N: n, IncumbentID: inc.ID, IncumbentTrain: trainScore, IncumbentVal: st.BestVal,
		Candidates: []store.EpochCandidate{}, StartedAt: time.Now(), Strategy: data.Strategy}
	gc := guardConfig(cfg)
	gc.Variables = runVariables(r)
	vet := candidateVetter{inc: inc, guard: optimize.NewGuard(gc, truths), earlier: earlierCandidates(epochs),
		seen: map[string]bool{inc.ID: true}}
	var failures []string
	for c := 0; c < cfg.Candidates; c++ {
		data.Candidate = c
		cand, u, perr := p.proposeOnce(ctx, model, cfg, data)
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
			logging.FromContext(ctx).Warn("optimizer gave no usable proposal", "epoch", n, "candidate", c, "error", perr.Error())
			failures = append(failures, perr.Error())
			continue
		}
		ep.Candidates = append(ep.Candidates, vet.check(cand))
	}
	if len(ep.Candidates) == 0 {
		ep.Decision = store.DecisionOptimizerFailed
		ep.Note = strings.Join(failures, "; ")
	}
	return p.store.CreateEpoch(ctx, r.ID, ep)
}

// optimizerData is the data block of epoch n's requests: the incumbent,
// its train summary and failures, the history, the strategy; and the
// incumbent's train score.
func (p *Pipeline) optimizerData(ctx context.Context, t turn, inc *store.Prompt, epochs []*store.Epoch, n int) (optimize.Data, float64, error) {
	r, cfg := t.run, t.cfg
	trainPh, err := p.store.GetPhase(ctx, r.ID, PhaseID(dataset.Train, inc.ID))
	if err != nil {
		return optimize.Data{}, 0, err
	}
	results, _, err := p.readResults(ctx, r.ID, trainPh)
	if err != nil {
		return optimize.Data{}, 0, err
	}
	scored := make([]optimize.Scored, len(results))
	for i, res := range results {
		scored[i] = optimize.Scored{Input: res.Input, Vars: res.Vars, Expected: res.Expected, Actual: res.Actual, Failed: res.Score == nil}
		if res.Score != nil {
			scored[i].Score = *res.Score
		}
	}
	metric, err := scoringMetric(cfg)
	if err != nil {
		return optimize.Data{}, 0, err
	}
	strategy, why := resolveStrategy(cfg, epochs)
	if why != "" {
		logging.FromContext(ctx).Info("strategy chosen", "epoch", n, "strategy", strategy, "reason", why)
	}
	history, err := p.history(ctx, r.ID, epochs, cfg.Optimizer.History)
	if err != nil {
		return optimize.Data{}, 0, err
	}
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
	if nothingFails(trainPh.Metrics) {
		data.FailuresAre = optimize.LowestScoringPasses
	}
	if vars, user := runVariables(r), cfg.Prompt.UserTemplate(); !slices.Equal(vars, []string{dataset.ColumnUserInput}) || user != config.DefaultUserTemplate {
		// A request over the default layout reads as it did before
		// templates (and keeps its cache key).
		data.Variables, data.UserTemplate = vars, user
	}
	if strategy == optimize.StrategyFewShot {
		// Demonstrations come from the training split only: the pool is
		// built from the incumbent's train results.
		data.Pool = optimize.SelectPool(scored, data.Examples, eval.Threshold(metric), cfg.Optimizer.FewShot.Pool)
		data.MaxDemos = cfg.Optimizer.FewShot.MaxDemos
	}
	return data, score(trainPh.Metrics, cfg.EarlyStopping.Metric), nil
}

// runVariables are the run's dataset variables: the columns a candidate
// may name as {{name}}. A run stored before variables existed had only
// user_input.
func runVariables(r *store.Run) []string {
	if r.Dataset.Variables == nil {
		return []string{dataset.ColumnUserInput}
	}
	return r.Dataset.Variables
}

// candidateVetter sorts an epoch's proposals before any is scored: a
// repeat of the incumbent, of another candidate or of an earlier prompt is
// no_change; one a guard refuses is blocked.
type candidateVetter struct {
	inc     *store.Prompt
	guard   *optimize.Guard
	earlier map[string]string
	seen    map[string]bool
}

func (v candidateVetter) check(cand optimize.Candidate) store.EpochCandidate {
	demos := toDemos(cand.Examples)
	id := PromptID(cand.System, cand.Output, demos)
	ec := store.EpochCandidate{PromptID: id, Status: store.CandidateProposed, System: cand.System, Output: cand.Output,
		Examples: demos, Reasoning: cand.Reasoning, Tries: cand.Tries}
	switch {
	case id == v.inc.ID:
		ec.Status, ec.Note = store.CandidateNoChange, "identical to the incumbent"
	case v.seen[id]:
		ec.Status, ec.Note = store.CandidateNoChange, "identical to another candidate of this epoch"
	case v.earlier[id] != "":
		ec.Status, ec.Note = store.CandidateNoChange, "identical to "+v.earlier[id]+": not scored again"
	default:
		if reason := v.guard.Check(v.inc.System, v.inc.Output, cand); reason != "" {
			ec.Status, ec.Note = store.CandidateBlocked, reason
		}
	}
	v.seen[id] = true
	return ec
}

// proposalFailed reports whether a proposal error ends that candidate (an
// unparsable reply after the tries, a permanent model error such as a
// safety block or a bad request) rather than calling for a retry.
func proposalFailed(err error) bool {
	var pe *optimize.ParseError
	var le *llm.Error
	return errors.As(err, &pe) || !errs.Retryable(err) || (errors.As(err, &le) && le.Kind == llm.Permanent)
}

// materialize creates the prompt versions of an epoch's stored proposals
// (create-once, so it is safe to repeat) and returns their events.
func (p *Pipeline) materialize(ctx context.Context, r *store.Run, ep *store.Epoch) ([]store.OutboxEvent, error) {
	if ep.Decision == store.DecisionOptimizerFailed {
		return []store.OutboxEvent{{Key: fmt.Sprintf("optimizer-failed/%d", ep.N), Event: store.Event{Kind: "optimizer", Epoch: ep.N,
			Message: fmt.Sprintf("Epoch %d: the optimizer gave no usable proposal (%s); the epoch is skipped.", ep.N, ep.Note)}}}, nil
	}
	inc, err := p.store.GetPrompt(ctx, r.ID, ep.IncumbentID)
	if err != nil {
		return nil, err
	}
	// What the optimizer was shown, so the event does not call passes
	// failures.
	trainPh, err := p.store.GetPhase(ctx, r.ID, PhaseID(dataset.Train, inc.ID))
	if err != nil {
		return nil, err
	}
	sent := ""
	if nothingFails(trainPh.Metrics) {
		sent = ", shown the incumbent's lowest-scoring passing examples (nothing fails on train)"
	}
	var events []store.OutboxEvent
	for c, ec := range ep.Candidates {
		if ec.Status == store.CandidateProposed {
			demos := ec.Examples
			if demos == nil {
				demos = []store.Demo{}
			}
			cand := &store.Prompt{ID: ec.PromptID, System: ec.System, Output: ec.Output, Examples: demos,
				Parent: inc.ID, Epoch: ep.N, Candidate: c, Strategy: ep.Strategy, Reasoning: ec.Reasoning,
				Status: store.PromptCandidate, Scores: map[string]eval.Summary{}}
			if err := p.store.PutPrompt(ctx, r.ID, cand); err != nil {
				return nil, err
			}
		}
		msg := fmt.Sprintf("Epoch %d, candidate %d (%s, %s)%s: %s", ep.N, c+1, ep.Strategy, ec.PromptID, sent, ec.Reasoning)
		if ec.Note != "" {
			msg += " [" + ec.Note + "]"
		}
		events = append(events, store.OutboxEvent{Key: fmt.Sprintf("proposal/%d/%d", ep.N, c), Event: store.Event{Kind: "optimizer", Epoch: ep.N, Message: msg,
			Data: map[string]any{"prompt_id": ec.PromptID, "system_prompt": ec.System, "output_prompt": ec.Output,
				"examples": len(ec.Examples), "strategy": ep.Strategy, "status": string(ec.Status), "tries": ec.Tries, "shown": shownKind(sent)}}})
	}
	return events, nil
}

// shownKind names, in the proposal event's data, what the optimizer was
// shown: "failures", or "lowest_scoring_passes" when nothing failed.
func shownKind(sent string) string {
	if sent != "" {
		return "lowest_scoring_passes"
	}
	return "failures"
}

// proposeOnce asks for one candidate; unparsable or invalid replies are
// asked again with the error shown, up to optimizer.max_tries. It returns
// the usage of its calls, metered through the context.
func (p *Pipeline) proposeOnce(ctx context.Context, model Generator, cfg config.Run, data optimize.Data) (optimize.Candidate, store.Usage, error) {
	m := &llm.Meter{}
	cand, _, err := optimize.Propose(llm.WithMeter(ctx, m), model, optimize.Request{
		MetaPrompt: cfg.Optimizer.MetaPrompt, Model: cfg.Optimizer.Model.Name,
		Temperature: cfg.Optimizer.Model.Temperature, MaxOutputTokens: cfg.Optimizer.Model.MaxOutputTokens,
		Thinking: cfg.Optimizer.Model.Thinking(), MaxTries: cfg.Optimizer.MaxTries, Data: data,
		OnRetry: func(try int, perr *optimize.ParseError) {
			logging.FromContext(ctx).Warn("optimizer reply rejected; asking again with the error shown",
				"strategy", data.Strategy, "candidate", data.Candidate, "try", try, "error", perr.Error())
		},
	})
	return cand, usageOf(m.Total()), err
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
			if c.Status != store.CandidateAccepted && c.Status != store.CandidateRejected {
				continue
			}
			pr, err := p.store.GetPrompt(ctx, runID, c.PromptID)
			if err != nil {
				return nil, err
			}
			out = append(out, optimize.HistoryEntry{SystemPrompt: pr.System, OutputPrompt: pr.Output, Demos: len(pr.Examples),
				Strategy: pr.Strategy, ValScore: c.Val, Accepted: c.Status == store.CandidateAccepted})
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
		return nil, errs.Invalid(err)
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
