package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/fault"
	"github.com/promptml/promptml/shared/logging"
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
	r, err := p.store.GetRun(ctx, msg.RunID)
	if err != nil {
		return fmt.Errorf("pipeline.Aggregate: %w", err)
	}
	if r.Terminal() {
		p.flushOutbox(ctx, r) // the events of an end whose writer died
		return nil
	}
	ph, claimed, err := p.store.ClaimPhase(ctx, msg.RunID, msg.PhaseID, holder, p.cfg.Lease)
	if err != nil {
		return fmt.Errorf("pipeline.Aggregate: %w", err)
	}
	switch {
	case claimed:
		if err := p.finishPhase(ctx, r, ph); err != nil {
			// Let the redelivery retry at once rather than after the lease.
			if rerr := p.store.ReleasePhase(context.WithoutCancel(ctx), msg.RunID, msg.PhaseID, holder); rerr != nil {
				logging.FromContext(ctx).Warn("phase lease not released", "error", rerr.Error())
			}
			return err
		}
	case ph.State == store.PhaseRunning:
		return ErrBusy // another delivery is summarizing it
	case ph.State != store.PhaseDone:
		return nil // not complete: a stray message; the last batch triggers it
	}
	return p.advance(ctx, msg.RunID, holder)
}

// advance moves the run through every stage whose phases are all done. The
// stage lease makes the transition exclusive: a concurrent duplicate gets
// ErrBusy and is retried later.
func (p *Pipeline) advance(ctx context.Context, runID, holder string) error {
	for {
		r, err := p.store.GetRun(ctx, runID)
		if err != nil {
			return fmt.Errorf("pipeline.advance: %w", err)
		}
		if r.Terminal() || r.Stage == store.StageIntake {
			return nil
		}
		done, err := p.allDone(ctx, r)
		if err != nil {
			return err
		}
		if !done {
			if r.PublishedSeq < r.StageSeq {
				// The transition committed but its fan-out is not
				// recorded: it is under way (the committer holds the lease
				// until it is), or was lost with a crashed committer.
				return p.resumeFanOut(ctx, runID, r.StageSeq, holder)
			}
			return nil
		}
		if r.PublishedSeq < r.StageSeq {
			// A committed stage that waits for nothing (an epoch with no
			// new candidate) is done at once, even when its committer died
			// before its fan-out: its events must be written before the
			// next transition replaces the outbox (each is created once
			// under its key, so a repeat adds nothing).
			p.flushOutbox(ctx, r)
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
		st, err := p.nextStep(ctx, r)
		if err == nil {
			err = p.fault(ctx, fault.AggregateAfterNext, stageKey(seq))
		}
		if err != nil {
			p.releaseStage(context.WithoutCancel(ctx), runID, holder, seq)
			return err
		}
		committed, ok, err := p.commit(ctx, runID, holder, seq, st)
		if err != nil || !ok || committed.Terminal() {
			return err
		}
		err = p.fault(ctx, fault.AggregateAfterCommit, stageKey(seq+1))
		if err == nil {
			err = p.fanOut(ctx, committed)
		}
		if err != nil {
			p.releaseStage(context.WithoutCancel(ctx), runID, holder, seq+1)
			return err
		}
	}
}

// nextStep is the transition out of r's stage, or the end of the run when
// the phases it would publish cross the budget.
func (p *Pipeline) nextStep(ctx context.Context, r *store.Run) (step, error) {
	cfg, err := runConfig(r)
	if err != nil {
		return step{}, err
	}
	t := turn{run: r, cfg: cfg}
	st, err := p.transition(ctx, t)
	if err != nil {
		return step{}, err
	}
	why, err := p.stageBudget(ctx, t, st)
	if err != nil {
		return step{}, err
	}
	if why != "" {
		if st, err = p.exhaust(ctx, t, st, why); err != nil {
			return step{}, err
		}
	}
	// The run's usage at the commit: its ledger's sum.
	total, by, err := p.runSpend(ctx, r)
	if err != nil {
		return step{}, err
	}
	st.Spent, st.SpentByModel = &total, by
	return st, nil
}

// allDone reports whether every phase r's stage waits for is done.
func (p *Pipeline) allDone(ctx context.Context, r *store.Run) (bool, error) {
	for _, id := range r.Pending {
		ph, err := p.store.GetPhase(ctx, r.ID, id)
		if err != nil {
			return false, fmt.Errorf("pipeline.advance: %w", err)
		}
		if ph.State != store.PhaseDone {
			return false, nil
		}
	}
	return true, nil
}

// leaseStage takes the run lease for holder, valid for the configured
// lease, unless the stage it is for is over (over) or another holder's
// lease is still live. The caller tells the outcome from the returned run:
// over, leased to holder, or leased to someone else.
func (p *Pipeline) leaseStage(ctx context.Context, runID, holder string, over func(*store.Run) bool) (*store.Run, error) {
	return p.store.UpdateRun(ctx, runID, func(cur *store.Run) error {
		now := time.Now()
		if over(cur) {
			return store.ErrSkip
		}
		if cur.Lease != nil && cur.Lease.Holder != holder && now.Before(cur.Lease.Expires) {
			return store.ErrSkip
		}
		cur.Lease = &store.Lease{Holder: holder, Expires: now.Add(p.cfg.Lease)}
		return nil
	})
}

// releaseStage clears the run lease if holder still holds it at seq, so the
// redelivery of a failed transition need not wait for the lease to expire.
func (p *Pipeline) releaseStage(ctx context.Context, runID, holder string, seq int) {
	_, err := p.store.UpdateRun(ctx, runID, func(r *store.Run) error {
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

// resumeFanOut republishes the fan-out of stage seq, committed by an
// invocation that died before recording it as published. It takes the run
// lease first, so that of the several deliveries that find the fan-out
// missing at once only one publishes it: every extra copy of a batch
// message that is not done yet is a batch scored twice at once, and paid
// twice (both miss the response cache).
func (p *Pipeline) resumeFanOut(ctx context.Context, runID string, seq int, holder string) error {
	over := func(r *store.Run) bool { return r.Terminal() || r.StageSeq != seq || r.PublishedSeq >= seq }
	cur, err := p.leaseStage(ctx, runID, holder, over)
	if err != nil {
		return fmt.Errorf("pipeline.resumeFanOut: %w", err)
	}
	if over(cur) {
		return nil // published meanwhile, or moved on
	}
	if cur.Lease == nil || cur.Lease.Holder != holder {
		return ErrBusy // another delivery is publishing it
	}
	if err := p.fanOut(ctx, cur); err != nil {
		p.releaseStage(context.WithoutCancel(ctx), runID, holder, seq)
		return err
	}
	return nil
}

// fanOut publishes the work of the run's current stage after writing the
// committed transition's events: the not-done batches of each pending
// phase, and a phase-done for each pending phase already complete (a
// reused phase). It then records the stage as published (and clears the
// outbox), so only a crash between commit and publish republishes.
func (p *Pipeline) fanOut(ctx context.Context, r *store.Run) error {
	p.flushOutbox(ctx, r)
	var msgs []queue.BatchMessage
	for _, id := range r.Pending {
		ph, err := p.store.GetPhase(ctx, r.ID, id)
		if err != nil {
			return fmt.Errorf("pipeline.fanOut: %w", err)
		}
		if ph.State != store.PhasePending {
			if err := p.queue.PublishPhaseDone(ctx, queue.PhaseDoneMessage{RunID: r.ID, PhaseID: id}); err != nil {
				return fmt.Errorf("pipeline.fanOut: %w", err)
			}
			continue
		}
		todo, complete, err := p.missingBatches(ctx, r.ID, ph)
		if err != nil {
			return err
		}
		msgs = append(msgs, todo...)
		if complete {
			// Every batch finished but the phase was never flipped (a
			// crash after the last batch's write): do the fan-in now.
			if _, err := p.store.CheckPhaseComplete(ctx, r.ID, id); err != nil {
				return fmt.Errorf("pipeline.fanOut: %w", err)
			}
			if err := p.queue.PublishPhaseDone(ctx, queue.PhaseDoneMessage{RunID: r.ID, PhaseID: id}); err != nil {
				return fmt.Errorf("pipeline.fanOut: %w", err)
			}
		}
	}
	if len(msgs) > 0 {
		if err := p.queue.PublishBatches(ctx, msgs); err != nil {
			return fmt.Errorf("pipeline.fanOut: %w", err)
		}
	}
	if err := p.fault(ctx, fault.AggregateMidFanOut, stageKey(r.StageSeq)); err != nil {
		return err
	}
	return p.store.SetPublished(ctx, r.ID, r.StageSeq)
}

// missingBatches lists the batch messages of a pending phase whose batch
// has no document yet, and whether every batch has one.
func (p *Pipeline) missingBatches(ctx context.Context, runID string, ph *store.Phase) ([]queue.BatchMessage, bool, error) {
	done, err := p.store.ListBatches(ctx, runID, ph.ID)
	if err != nil {
		return nil, false, fmt.Errorf("pipeline.fanOut: %w", err)
	}
	isDone := make(map[int]bool, len(done))
	for _, b := range done {
		isDone[b.N] = true
	}
	var msgs []queue.BatchMessage
	for n := 0; n < ph.TotalBatches; n++ {
		if !isDone[n] {
			msgs = append(msgs, queue.BatchMessage{RunID: runID, PhaseID: ph.ID, Batch: n})
		}
	}
	return msgs, len(isDone) >= ph.TotalBatches, nil
}

// failOnPermanent records a permanent error of a step on its run, so the
// run ends failed instead of waiting forever for a message that was acked.
// It returns err (or, if recording failed, that failure, so the message is
// retried). A bad message names no run to fail.
func (p *Pipeline) failOnPermanent(ctx context.Context, runID string, err error) error {
	if err == nil || errs.Retryable(err) || errors.Is(err, queue.ErrBadMessage) {
		return err
	}
	if _, _, ferr := p.end(ctx, runID, failed(store.RunError{Message: err.Error()})); ferr != nil && !errors.Is(ferr, store.ErrNotFound) {
		return ferr
	}
	return err
}
