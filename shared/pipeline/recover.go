package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/promptml/promptml/shared/store"
)

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

// leaseStage takes the run lease for holder, valid for p.lease(), unless the
// stage it is for is over (over) or another holder's lease is still live.
// The caller tells the outcome from the returned run: over, leased to
// holder, or leased to someone else.
func (p *Pipeline) leaseStage(ctx context.Context, runID, holder string, over func(*store.Run) bool) (*store.Run, error) {
	return p.Store.UpdateRun(ctx, runID, func(cur *store.Run) error {
		now := time.Now()
		if over(cur) {
			return store.ErrSkip
		}
		if cur.Lease != nil && cur.Lease.Holder != holder && now.Before(cur.Lease.Expires) {
			return store.ErrSkip
		}
		cur.Lease = &store.Lease{Holder: holder, Expires: now.Add(p.lease())}
		return nil
	})
}
