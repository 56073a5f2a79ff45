package pipeline

import (
	"context"
	"time"

	"github.com/promptml/promptml/shared/store"
)

// Reader is the read side of the pipeline: what the API and the dashboard
// show. It never changes a run; *Pipeline implements it.
type Reader interface {
	Run(ctx context.Context, id string) (*store.Run, error)
	Runs(ctx context.Context, status store.RunStatus, limit int) ([]*store.Run, error)
	Prompts(ctx context.Context, runID string) ([]*store.Prompt, error)
	Prompt(ctx context.Context, runID, id string) (*store.Prompt, error)
	Epochs(ctx context.Context, runID string) ([]*store.Epoch, error)
	Phases(ctx context.Context, runID string) ([]*store.Phase, error)
	Phase(ctx context.Context, runID, id string) (*store.Phase, error)
	// Progress fills a phase that is not done with its done batches and
	// their usage (a phase's own usage is written when it finishes).
	Progress(ctx context.Context, runID string, ph *store.Phase) error
	Events(ctx context.Context, runID string, after time.Time) ([]*store.Event, error)
	PhaseResults(ctx context.Context, runID, phaseID string, from, limit int) ([]Result, int, error)
}

var _ Reader = (*Pipeline)(nil)

// Run reads a run. A running run's usage is read from its ledger (the
// stored figure is the sum at its last commit), so live views show every
// call paid so far.
func (p *Pipeline) Run(ctx context.Context, id string) (*store.Run, error) {
	r, err := p.store.GetRun(ctx, id)
	if err != nil || r.Terminal() {
		return r, err
	}
	total, by, err := p.runSpend(ctx, r)
	if err != nil {
		return nil, err
	}
	r.SettleUsage(total, by)
	return r, nil
}

// Runs lists runs, newest first, optionally only those with status.
func (p *Pipeline) Runs(ctx context.Context, status store.RunStatus, limit int) ([]*store.Run, error) {
	return p.store.ListRuns(ctx, status, limit)
}

// Prompts lists a run's prompt versions.
func (p *Pipeline) Prompts(ctx context.Context, runID string) ([]*store.Prompt, error) {
	return p.store.ListPrompts(ctx, runID)
}

// Prompt reads a prompt version.
func (p *Pipeline) Prompt(ctx context.Context, runID, id string) (*store.Prompt, error) {
	return p.store.GetPrompt(ctx, runID, id)
}

// Epochs lists a run's epochs in order.
func (p *Pipeline) Epochs(ctx context.Context, runID string) ([]*store.Epoch, error) {
	return p.store.ListEpochs(ctx, runID)
}

// Phases lists a run's phases.
func (p *Pipeline) Phases(ctx context.Context, runID string) ([]*store.Phase, error) {
	return p.store.ListPhases(ctx, runID)
}

// Phase reads a phase.
func (p *Pipeline) Phase(ctx context.Context, runID, id string) (*store.Phase, error) {
	return p.store.GetPhase(ctx, runID, id)
}

// Progress implements Reader.
func (p *Pipeline) Progress(ctx context.Context, runID string, ph *store.Phase) error {
	if ph.State == store.PhaseDone {
		ph.DoneBatches = ph.TotalBatches
		return nil
	}
	var err error
	ph.DoneBatches, ph.Usage, err = p.store.DoneBatchUsage(ctx, runID, ph.ID)
	return err
}

// Events lists a run's events in time order, after the given time.
func (p *Pipeline) Events(ctx context.Context, runID string, after time.Time) ([]*store.Event, error) {
	return p.store.ListEvents(ctx, runID, after)
}
