package pipeline

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/logging"
	"github.com/promptml/promptml/shared/store"
)

// turn is what a transition starts from: the run as read (every phase its
// stage waits for is done) and its config.
type turn struct {
	run *store.Run
	cfg config.Run
}

// step is the next state of a run, as a transition computed it. Nothing
// of the run changes until commit applies it: one optimistic write of the
// run document, guarded by its stage_seq (precondition: unchanged since the
// read) and by the run lease the caller holds.
type step struct {
	To         store.Stage
	Pending    []string
	Epoch      int
	Stale      int
	Incumbent  string
	BestVal    float64
	InitialVal *float64
	// AddUsage is the usage the step adds to the run's (the epoch's
	// optimizer calls); only its Errors are added, the run's calls, tokens
	// and cost being its ledger's sum (Spent).
	AddUsage store.Usage
	// AddByModel splits AddUsage by model key.
	AddByModel map[string]store.Usage
	// Spent and SpentByModel are the sums of the run's ledger read before
	// the commit (spend.go), applied unless the run shows a later sum.
	Spent        *store.Usage
	SpentByModel map[string]store.Usage
	Test         *store.TestResult
	// End ends the run with this status (succeeded, budget_exhausted);
	// "" keeps it running.
	End store.RunStatus
	// Events are the transition's lines of the run's log, written from the
	// committed run's outbox after the commit.
	Events []store.OutboxEvent
	// Gated is the epoch the gate decided, reported to analytics after the
	// commit (with the optimizer usage under GatedModel).
	Gated      *store.Epoch
	GatedModel string
}

// stay is the step that changes nothing: where every transition starts.
func stay(r *store.Run) step {
	return step{To: r.Stage, Epoch: r.Epoch, Stale: r.StaleEpochs, Incumbent: r.IncumbentID, BestVal: r.BestVal}
}

// event returns st with one more event, keyed by its step key.
func (st step) event(key string, e store.Event) step {
	st.Events = append(slices.Clip(st.Events), store.OutboxEvent{Key: key, Event: e})
	return st
}

// apply writes the step onto r. The committing invocation keeps the run
// lease until its fan-out is published (SetPublished clears it), so no
// other delivery republishes the new stage meanwhile.
func (st step) apply(r *store.Run, lease *store.Lease) {
	r.Stage, r.StageSeq, r.Pending = st.To, r.StageSeq+1, st.Pending
	r.Epoch, r.StaleEpochs = st.Epoch, st.Stale
	r.IncumbentID, r.BestVal = st.Incumbent, st.BestVal
	if st.InitialVal != nil {
		r.InitialVal = *st.InitialVal
	}
	r.Usage.Errors += st.AddUsage.Errors
	for k, u := range st.AddByModel {
		if u.Errors > 0 {
			r.UsageByModel = addByModel(r.UsageByModel, map[string]store.Usage{k: {Errors: u.Errors}})
		}
	}
	if st.Spent != nil {
		r.SettleUsage(*st.Spent, st.SpentByModel)
	}
	if st.Test != nil {
		r.Test = st.Test
	}
	r.Lease = lease
	r.Outbox = st.Events
}

// commit applies st to the run if its stage_seq is still seq, and reports
// whether it did. A step that ends the run goes through end, like every
// other end of a run. Analytics follow the committed step.
func (p *Pipeline) commit(ctx context.Context, runID, holder string, seq int, st step) (*store.Run, bool, error) {
	lease := &store.Lease{Holder: holder, Expires: time.Now().Add(p.cfg.Lease)}
	if st.End != "" {
		return p.end(ctx, runID, ending{status: st.End, events: st.Events, report: st,
			guard: func(r *store.Run) bool { return r.StageSeq == seq },
			with:  func(r *store.Run) { st.apply(r, nil) }})
	}
	committed, err := p.store.UpdateRun(ctx, runID, func(cur *store.Run) error {
		if cur.StageSeq != seq || cur.Terminal() {
			return store.ErrSkip
		}
		st.apply(cur, lease)
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("pipeline.commit: %w", err)
	}
	if committed.StageSeq != seq+1 {
		return committed, false, nil
	}
	p.reportStep(ctx, committed, st)
	return committed, true, nil
}

// ending is why a run ends: its status, the error of a failed run, the
// event saying so, and for an end that is also a transition the guard and
// the fields of the same write.
type ending struct {
	status store.RunStatus
	// err is a failed run's error; its Stage is filled in.
	err *store.RunError
	// key and event are the ending's line in the run's log ("" key: none,
	// the transition's events say it).
	key   string
	event store.Event
	// events come before it (the transition's own).
	events []store.OutboxEvent
	// guard, when set, must hold for the run to end (e.g. stage_seq
	// unchanged); with writes more fields in the same write.
	guard func(*store.Run) bool
	with  func(*store.Run)
	// report, when the end is a transition, is its step for analytics.
	report step
}

// end ends a running run, whatever the cause: failure, cancel, budget,
// intake failure, success. It is the only place a run's status leaves
// running. It reports whether this call ended it (false: the run had ended
// already, or guard failed); the events are written after the commit.
func (p *Pipeline) end(ctx context.Context, runID string, e ending) (*store.Run, bool, error) {
	var ended bool
	r, err := p.store.UpdateRun(ctx, runID, func(r *store.Run) error {
		ended = false
		if r.Terminal() || (e.guard != nil && !e.guard(r)) {
			return store.ErrSkip
		}
		if e.err != nil {
			re := *e.err
			re.Stage = r.Stage
			r.Error = &re
		}
		if e.with != nil {
			e.with(r)
		}
		r.Status, r.Lease, r.FinishedAt = e.status, nil, time.Now()
		r.Outbox = slices.Clip(e.events)
		if e.key != "" {
			r.Outbox = append(r.Outbox, store.OutboxEvent{Key: e.key, Event: e.event})
		}
		ended = true
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("pipeline.end: %w", err)
	}
	if !ended {
		return r, false, nil
	}
	// The ledger summed after the status changed: every call recorded
	// before it is counted here, and an attempt that records one after it
	// sees the run ended and settles again (settleIfEnded).
	if settled, err := p.settle(ctx, r); err != nil {
		logging.FromContext(ctx).Warn("spend of an ended run not settled", "error", err.Error())
	} else {
		settled.Outbox = r.Outbox
		r = settled
	}
	p.flushOutbox(ctx, r)
	p.reportStep(ctx, r, e.report)
	log := logging.FromContext(ctx)
	switch {
	case r.Status == store.StatusFailed && r.Error != nil:
		log.Error("run failed", "error", r.Error.Message)
	default:
		log.Info("run ended", "status", string(r.Status))
	}
	return r, true, nil
}

// flushOutbox writes the committed run's outbox events (each created once
// under its step key, so a repeat adds nothing); a terminal run's outbox is
// then cleared (a running run's is cleared with its fan-out, SetPublished).
func (p *Pipeline) flushOutbox(ctx context.Context, r *store.Run) {
	if len(r.Outbox) == 0 {
		return
	}
	for _, e := range r.Outbox {
		p.event(ctx, r.ID, e.Key, e.Event)
	}
	if !r.Terminal() {
		return
	}
	if _, err := p.store.UpdateRun(ctx, r.ID, func(cur *store.Run) error {
		if len(cur.Outbox) == 0 {
			return store.ErrSkip
		}
		cur.Outbox = nil
		return nil
	}); err != nil {
		logging.FromContext(ctx).Warn("outbox not cleared", "run_id", r.ID, "error", err.Error())
	}
}

// event writes a line of the run's log; a failure to log never fails the
// step.
func (p *Pipeline) event(ctx context.Context, run, key string, e store.Event) {
	if err := p.store.AddEvent(ctx, run, key, e); err != nil {
		logging.FromContext(ctx).Warn("event not written", "run_id", run, "error", err.Error())
	}
}
