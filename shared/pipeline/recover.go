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
	cur, err := p.Store.UpdateRun(ctx, runID, func(cur *store.Run) error {
		now := time.Now()
		if cur.StageSeq != seq || cur.PublishedSeq >= seq || cur.Terminal() {
			return store.ErrSkip
		}
		if cur.Lease != nil && cur.Lease.Holder != holder && now.Before(cur.Lease.Expires) {
			return store.ErrSkip
		}
		cur.Lease = &store.Lease{Holder: holder, Expires: now.Add(p.lease())}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pipeline.resumeFanOut: %w", err)
	}
	if cur.Terminal() || cur.StageSeq != seq || cur.PublishedSeq >= seq {
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
