package pipeline

import (
	"context"
	"fmt"

	"github.com/promptml/promptml/shared/store"
)

// The ways a run ends besides a transition's success, each an ending for
// end (step.go).

// failed ends a run as failed with re.
func failed(re store.RunError) ending {
	return ending{status: store.StatusFailed, err: &re, key: "failed",
		event: store.Event{Kind: "failed", Message: "Run failed: " + re.Message}}
}

// budgetExhausted ends a run budget_exhausted: why says which check
// stopped it; the best prompt so far (bestID, val bestVal) is exported.
func budgetExhausted(epoch int, bestID string, bestVal float64, why string) ending {
	return ending{status: store.StatusBudgetExhausted, key: "budget-exhausted", event: budgetEvent(epoch, bestID, bestVal, why)}
}

func budgetEvent(epoch int, bestID string, bestVal float64, why string) store.Event {
	return store.Event{Kind: string(store.StatusBudgetExhausted), Epoch: epoch,
		Message: fmt.Sprintf("Budget exhausted: %s. Stopped with the best prompt so far, %s (val %.3f), exported.", why, bestID, bestVal),
		Data:    map[string]any{"reason": why, "best_prompt_id": bestID}}
}

// fail ends a run as failed with e.
func (p *Pipeline) fail(ctx context.Context, runID string, e store.RunError) error {
	if _, _, err := p.end(ctx, runID, failed(e)); err != nil {
		return fmt.Errorf("pipeline.fail: %w", err)
	}
	return nil
}

// Cancel stops a run: no new fan-out happens, in-flight batches are dropped
// when they start, and the history is kept. A run that has ended is
// returned as it is.
func (p *Pipeline) Cancel(ctx context.Context, runID string) (*store.Run, error) {
	r, _, err := p.end(ctx, runID, ending{status: store.StatusCancelled, key: "cancelled",
		event: store.Event{Kind: "cancelled", Message: "Run cancelled."}})
	if err != nil {
		return nil, fmt.Errorf("pipeline.Cancel: %w", err)
	}
	return r, nil
}
