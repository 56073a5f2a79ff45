package pipeline

import (
	"context"
	"fmt"

	"github.com/promptml/promptml/shared/logging"
	"github.com/promptml/promptml/shared/queue"
)

// fault returns the injected failure at point for key, or nil (always nil
// unless Deps.Faults is set).
func (p *Pipeline) fault(ctx context.Context, point, key string) error {
	if p.faults == nil {
		return nil
	}
	err := p.faults.Inject(ctx, point, key)
	if err != nil {
		logging.FromContext(ctx).Warn("fault injected", "point", point, "key", key)
	}
	return err
}

// batchKey names one batch message for fault decisions. It leaves out the
// run id (random), so that a seed gives the same faults on every run of a
// dataset: phase ids are content hashes.
func batchKey(m queue.BatchMessage) string {
	return fmt.Sprintf("%s/%d", m.PhaseID, m.Batch)
}

// stageKey names one stage transition of a run for fault decisions (no run
// id either).
func stageKey(seq int) string { return fmt.Sprintf("stage-%d", seq) }
