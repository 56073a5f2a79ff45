package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/promptml/promptml/shared/dataset"
	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/store"
)

// The transitions of the stage graph (stages.go). Each reads what it
// needs, writes the documents of its stage idempotently (prompts, phases,
// epochs: create-or-reuse, same values on a retry), and returns the next
// step; the run itself changes only when commit applies it.

// leaveBaseline: the baseline val score becomes the bar (initial_val and
// best_val); then the first epoch, or the end of training.
func (p *Pipeline) leaveBaseline(ctx context.Context, t turn) (step, error) {
	r, metric := t.run, t.cfg.EarlyStopping.Metric
	val, err := p.store.GetPhase(ctx, r.ID, PhaseID(dataset.Val, r.InitialPromptID))
	if err != nil {
		return step{}, err
	}
	train, err := p.store.GetPhase(ctx, r.ID, PhaseID(dataset.Train, r.InitialPromptID))
	if err != nil {
		return step{}, err
	}
	st := stay(r)
	v := score(val.Metrics, metric)
	st.InitialVal, st.BestVal = &v, v
	st = st.event("baseline", store.Event{Kind: "baseline", Message: fmt.Sprintf(
		"Baseline: the initial prompt scores %.3f on train and %.3f on val. This is the bar every candidate must beat.",
		score(train.Metrics, metric), v)})
	return p.afterEpoch(ctx, t, st)
}

// leaveCandidates is the gate: the epoch's best candidate by val score
// against the incumbent (decide.go's gate); an accepted one is scored on
// train next unless that phase is done already.
func (p *Pipeline) leaveCandidates(ctx context.Context, t turn) (step, error) {
	r, cfg := t.run, t.cfg
	ep, ok, err := p.store.GetEpoch(ctx, r.ID, r.Epoch)
	if err != nil {
		return step{}, err
	}
	if !ok {
		return step{}, errs.New(errs.Internal, "run %s: epoch %d missing at its gate", r.ID, r.Epoch)
	}
	cands := make([]candidateScore, len(ep.Candidates))
	for i := range ep.Candidates {
		c := &ep.Candidates[i]
		cands[i].Status = c.Status
		if !c.Status.Scored() {
			continue
		}
		ph, err := p.store.GetPhase(ctx, r.ID, PhaseID(dataset.Val, c.PromptID))
		if err != nil {
			return step{}, err
		}
		c.Val = score(ph.Metrics, cfg.EarlyStopping.Metric)
		cands[i].Val, cands[i].Errors = c.Val, errorsOf(ph.Metrics)
	}
	st := stay(r)
	best := bestCandidate(cands)
	var msg string
	if best < 0 {
		if ep.Decision == "" {
			ep.Decision = store.DecisionNoChange
		}
		st.Stale++
		msg = fmt.Sprintf("Epoch %d: no new candidate to score (%s).", r.Epoch, ep.Decision)
		for i, c := range ep.Candidates {
			if c.Status == store.CandidateBlocked {
				msg += fmt.Sprintf(" Candidate %d was blocked: %s.", i+1, c.Note)
			}
		}
	} else {
		if msg, err = p.decide(ctx, t, ep, cands, best, &st); err != nil {
			return step{}, err
		}
	}
	ep.FinishedAt = time.Now()
	if err := p.store.PutEpoch(ctx, r.ID, ep); err != nil {
		return step{}, err
	}
	st = st.event(fmt.Sprintf("gate/%d", r.Epoch), store.Event{Kind: "decision", Epoch: r.Epoch, Message: msg, Data: gateEventData(ep)})
	st.Gated, st.GatedModel = ep, cfg.Optimizer.Model.Key()
	if ep.Decision != store.DecisionAccepted {
		return p.afterEpoch(ctx, t, st)
	}
	ph, err := p.store.EnsurePhase(ctx, r.ID, &store.Phase{ID: PhaseID(dataset.Train, st.Incumbent), Split: dataset.Train,
		PromptID: st.Incumbent, TotalBatches: r.Dataset.Batches[dataset.Train]})
	if err != nil {
		return step{}, err
	}
	if ph.State != store.PhaseDone {
		// The next epoch learns from the new incumbent's train failures.
		st.To, st.Pending = store.StageIncumbentTrain, []string{ph.ID}
		return st, nil
	}
	tr := score(ph.Metrics, cfg.EarlyStopping.Metric)
	ep.NewIncumbentTrain = &tr
	if err := p.store.PutEpoch(ctx, r.ID, ep); err != nil {
		return step{}, err
	}
	return p.afterEpoch(ctx, t, st)
}

// decide runs the gate on the best candidate (the paired test only when
// the margin is met), records the verdict on the epoch and the prompts,
// moves the incumbent and the stale count in st, and returns the message.
func (p *Pipeline) decide(ctx context.Context, t turn, ep *store.Epoch, cands []candidateScore, best int, st *step) (string, error) {
	r, cfg := t.run, t.cfg
	b := &ep.Candidates[best]
	incErrors, err := p.valErrors(ctx, r.ID, st.Incumbent)
	if err != nil {
		return "", err
	}
	in := gateInput{Candidate: cands[best], IncumbentVal: st.BestVal, IncumbentErrors: incErrors, MinDelta: cfg.Gate.MinDelta, Alpha: cfg.Gate.Alpha}
	ep.BestCandidate, ep.BestVal, ep.Delta = b.PromptID, b.Val, b.Val-st.BestVal
	ep.GateTest = cfg.Gate.Test
	if ep.GateTest == "" {
		ep.GateTest = "none"
	}
	var note string
	if in.needsTest() {
		gr, err := p.pairedTest(ctx, r, cfg, st.Incumbent, b.PromptID)
		if err != nil {
			return "", err
		}
		in.P, ep.PValue, note = gr.P, gr.P, gr.describe(cfg)
	}
	d, why := gate(in)
	if why != "" {
		note = why
	}
	ep.Decision = d
	for i := range ep.Candidates {
		c := &ep.Candidates[i]
		if c.Status == store.CandidateNoChange || c.Status == store.CandidateBlocked {
			continue
		}
		c.Status = store.CandidateRejected
		if i == best && d == store.DecisionAccepted {
			c.Status = store.CandidateAccepted
		}
		if err := p.store.UpdatePrompt(ctx, r.ID, c.PromptID, map[string]any{"status": string(c.Status)}); err != nil {
			return "", err
		}
	}
	msg := fmt.Sprintf("Epoch %d: best candidate %s scores %.3f on val vs the incumbent's %.3f (Δ %+.3f, min_delta %.3f%s): %s.",
		r.Epoch, b.PromptID, b.Val, st.BestVal, ep.Delta, cfg.Gate.MinDelta, note, d)
	st.Stale = staleAfter(st.Stale, d, ep.Delta, cfg.EarlyStopping.MinDelta)
	if d == store.DecisionAccepted {
		st.Incumbent, st.BestVal = b.PromptID, b.Val
	}
	return msg, nil
}

// leaveIncumbentTrain records the new incumbent's train score on its
// epoch; then the next epoch, or the end of training.
func (p *Pipeline) leaveIncumbentTrain(ctx context.Context, t turn) (step, error) {
	r := t.run
	ep, ok, err := p.store.GetEpoch(ctx, r.ID, r.Epoch)
	if err != nil {
		return step{}, fmt.Errorf("pipeline: epoch %d: %w", r.Epoch, err)
	}
	if !ok {
		return step{}, errs.New(errs.Internal, "run %s: epoch %d missing after its incumbent's train phase", r.ID, r.Epoch)
	}
	train, err := p.store.GetPhase(ctx, r.ID, PhaseID(dataset.Train, r.IncumbentID))
	if err != nil {
		return step{}, err
	}
	tr := score(train.Metrics, t.cfg.EarlyStopping.Metric)
	ep.NewIncumbentTrain = &tr
	if err := p.store.PutEpoch(ctx, r.ID, ep); err != nil {
		return step{}, err
	}
	return p.afterEpoch(ctx, t, stay(r))
}

// leaveTest records the test scores, exports the best prompt and ends the
// run: succeeded.
func (p *Pipeline) leaveTest(ctx context.Context, t turn) (step, error) {
	return p.succeed(ctx, t, stay(t.run))
}

// afterEpoch starts the next epoch, or, when training is over, the test
// stage (or the end, without test rows).
func (p *Pipeline) afterEpoch(ctx context.Context, t turn, st step) (step, error) {
	r, cfg := t.run, t.cfg
	done, why := trainingOver(st.Epoch, cfg.Epochs, st.Stale, cfg.EarlyStopping.Patience, st.BestVal)
	if !done {
		return p.startEpoch(ctx, t, st, st.Epoch+1)
	}
	st = st.event(fmt.Sprintf("stop/%d", st.Epoch), store.Event{Kind: "progress", Message: why, Epoch: st.Epoch})
	if r.Dataset.Counts[dataset.Test] == 0 {
		return p.succeed(ctx, t, st)
	}
	ids := []string{r.InitialPromptID}
	if st.Incumbent != r.InitialPromptID {
		ids = append(ids, st.Incumbent)
	}
	st.To, st.Pending = store.StageTest, nil
	for _, id := range ids {
		ph, err := p.store.EnsurePhase(ctx, r.ID, &store.Phase{ID: PhaseID(dataset.Test, id), Split: dataset.Test, PromptID: id,
			TotalBatches: r.Dataset.Batches[dataset.Test]})
		if err != nil {
			return step{}, err
		}
		st.Pending = append(st.Pending, ph.ID)
	}
	return st.event("test-start", store.Event{Kind: "progress", Message: "Scoring the initial and the best prompt once on the locked test split."}), nil
}

// startEpoch asks the optimizer for candidates and schedules their
// validation. The proposals are stored on the epoch before the transition
// commits, so a retried transition reuses them instead of paying again.
func (p *Pipeline) startEpoch(ctx context.Context, t turn, st step, n int) (step, error) {
	r, cfg := t.run, t.cfg
	ep, ok, err := p.store.GetEpoch(ctx, r.ID, n)
	if err != nil {
		return step{}, err
	}
	if !ok {
		// Budget: an epoch that cannot be afforded is not proposed.
		why, err := p.epochBudget(ctx, t, st, n)
		if err != nil {
			return step{}, err
		}
		if why != "" {
			return p.exhaust(ctx, t, st, why)
		}
		if ep, err = p.propose(ctx, t, st, n); err != nil {
			return step{}, err
		}
	}
	events, err := p.materialize(ctx, r, ep)
	if err != nil {
		return step{}, err
	}
	for _, e := range events {
		st = st.event(e.Key, e.Event)
	}
	st.To, st.Epoch, st.Pending = store.StageCandidates, n, nil
	st.AddUsage = st.AddUsage.Add(ep.Usage)
	st.AddByModel = addByModel(copyByModel(st.AddByModel), map[string]store.Usage{cfg.Optimizer.Model.Key(): ep.Usage})
	for _, c := range ep.Candidates {
		if c.Status != store.CandidateProposed {
			continue
		}
		ph, err := p.store.EnsurePhase(ctx, r.ID, &store.Phase{ID: PhaseID(dataset.Val, c.PromptID), Split: dataset.Val,
			PromptID: c.PromptID, TotalBatches: r.Dataset.Batches[dataset.Val]})
		if err != nil {
			return step{}, err
		}
		st.Pending = append(st.Pending, ph.ID)
	}
	return st, nil
}

// succeed records the test scores of the initial and the best prompt,
// exports the best, and ends the run succeeded.
func (p *Pipeline) succeed(ctx context.Context, t turn, st step) (step, error) {
	r := t.run
	best, err := p.store.GetPrompt(ctx, r.ID, st.Incumbent)
	if err != nil {
		return step{}, err
	}
	if r.Dataset.Counts[dataset.Test] > 0 {
		tr := &store.TestResult{InitialPromptID: r.InitialPromptID, BestPromptID: st.Incumbent}
		for _, x := range []struct {
			id  string
			dst *eval.Summary
		}{{r.InitialPromptID, &tr.Initial}, {st.Incumbent, &tr.Best}} {
			ph, err := p.store.GetPhase(ctx, r.ID, PhaseID(dataset.Test, x.id))
			if err != nil {
				return step{}, err
			}
			if ph.Metrics != nil {
				*x.dst = *ph.Metrics
			}
		}
		st.Test = tr
	}
	if err := p.Export(ctx, r, best); err != nil {
		return step{}, err
	}
	st.To, st.Pending, st.End = store.StageDone, nil, store.StatusSucceeded
	initial := r.InitialVal
	if st.InitialVal != nil {
		initial = *st.InitialVal
	}
	msg := fmt.Sprintf("Run succeeded: val %.3f → %.3f with prompt %s.", initial, st.BestVal, st.Incumbent)
	if st.Test != nil {
		msg += fmt.Sprintf(" Test: initial %.3f, best %.3f (95%% CI %.3f–%.3f).", st.Test.Initial.Mean, st.Test.Best.Mean, st.Test.Best.CILow, st.Test.Best.CIHigh)
	}
	return st.event("succeeded", store.Event{Kind: "succeeded", Message: msg, Epoch: st.Epoch}), nil
}

// exhaust turns st into the end of the run: the best prompt so far is
// exported and the run ends budget_exhausted.
func (p *Pipeline) exhaust(ctx context.Context, t turn, st step, why string) (step, error) {
	best, err := p.store.GetPrompt(ctx, t.run.ID, st.Incumbent)
	if err != nil {
		return step{}, err
	}
	if err := p.Export(ctx, t.run, best); err != nil {
		return step{}, err
	}
	st.To, st.Pending, st.End = store.StageDone, nil, store.StatusBudgetExhausted
	return st.event("budget-exhausted", budgetEvent(st.Epoch, best.ID, st.BestVal, why)), nil
}

// valErrors is the number of val examples a prompt got no score on.
func (p *Pipeline) valErrors(ctx context.Context, runID, promptID string) (int, error) {
	ph, err := p.store.GetPhase(ctx, runID, PhaseID(dataset.Val, promptID))
	if err != nil {
		return 0, err
	}
	return errorsOf(ph.Metrics), nil
}

func errorsOf(s *eval.Summary) int {
	if s == nil {
		return 0
	}
	return s.Errors
}

// copyByModel copies a usage map, so a step's map is never shared with
// the step it came from.
func copyByModel(m map[string]store.Usage) map[string]store.Usage {
	if m == nil {
		return nil
	}
	out := make(map[string]store.Usage, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
