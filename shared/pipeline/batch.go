package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/fault"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/logging"
	"github.com/promptml/promptml/shared/queue"
	"github.com/promptml/promptml/shared/store"
	"github.com/promptml/promptml/shared/template"
)

// Result is one scored example, one JSON line of
// runs/{run}/results/{phase}/{batch}.jsonl.
type Result struct {
	ID    string `json:"id"`
	Row   int    `json:"row"`
	Batch int    `json:"batch"`
	// Input is the user turn the model saw: the user template rendered
	// with the row's variables (user_input with the default template).
	Input string `json:"user_input"`
	// Vars are the row's variables other than user_input (dataset
	// Example.Vars), absent when the file has none.
	Vars     map[string]string `json:"vars,omitempty"`
	Expected string            `json:"expected"`
	Actual   string            `json:"actual"`
	// Score is nil when the example has no score (Error is set): errors are
	// not scores.
	Score       *float64 `json:"score"`
	Passed      bool     `json:"passed"`
	Explanation string   `json:"explanation,omitempty"`
	Error       string   `json:"error,omitempty"`
	// Reason is the classified reason of a model error (e.g. "safety",
	// "content_filter", "bad_request"), empty otherwise.
	Reason string `json:"reason,omitempty"`
	// StartedAt is when the model call began (its latency runs from here):
	// with LatencyMS it places the call on the run's timeline, which the
	// efficiency benchmark uses to measure calls in flight.
	StartedAt time.Time `json:"started_at,omitzero"`
	LatencyMS int64     `json:"latency_ms"`
	Usage     llm.Usage `json:"usage"`
	// Cached is true when the answer came from the response cache.
	Cached bool `json:"cached,omitempty"`
}

// PrimaryRequest is the primary call for one row: system instruction =
// the system prompt rendered with the row's variables (plus the few-shot
// demonstrations, which are not rendered again); user content = the user
// template rendered, a blank line, then the output prompt rendered. It
// also returns the rendered user turn, which the result records as its
// input. With the default user template, {{user_input}}, and prompts
// without placeholders, this is user_input + "\n\n" + output, the call
// before templates existed.
//
// A placeholder without a value is an error: the intake and the guard
// let no such prompt reach a batch.
func PrimaryRequest(p *store.Prompt, userTemplate string, m config.Model, vars map[string]string) (*llm.Request, string, error) {
	system, err := template.Render(p.System, vars)
	if err != nil {
		return nil, "", fmt.Errorf("prompt %s: system prompt: %w", p.ID, err)
	}
	user, err := template.Render(userTemplate, vars)
	if err != nil {
		return nil, "", fmt.Errorf("prompt %s: user template: %w", p.ID, err)
	}
	output, err := template.Render(p.Output, vars)
	if err != nil {
		return nil, "", fmt.Errorf("prompt %s: output prompt: %w", p.ID, err)
	}
	if len(p.Examples) > 0 {
		var b bytes.Buffer
		b.WriteString(system)
		b.WriteString("\n\nExamples:\n")
		for _, d := range p.Examples {
			fmt.Fprintf(&b, "Input: %s\nOutput: %s\n", d.Input, d.Output)
		}
		system = b.String()
	}
	temp := m.Temperature
	return &llm.Request{
		Model:           m.Name,
		System:          system,
		Prompt:          user + "\n\n" + output,
		Temperature:     &temp,
		MaxOutputTokens: m.MaxOutputTokens,
		Thinking:        m.Thinking(),
		Purpose:         "primary",
	}, user, nil
}

// RunBatch answers and scores one batch of one phase, writes its results,
// and does the fan-in. A batch already done is not recomputed. A permanent
// error fails the run.
func (p *Pipeline) RunBatch(ctx context.Context, msg queue.BatchMessage) error {
	ctx = logging.With(ctx, "run_id", msg.RunID, "phase_id", msg.PhaseID, "batch", msg.Batch)
	return p.failOnPermanent(ctx, msg.RunID, p.runBatch(ctx, msg))
}

func (p *Pipeline) runBatch(ctx context.Context, msg queue.BatchMessage) error {
	// The run, the phase and the batch document are read at once: one
	// round trip instead of three before the batch's first model call.
	var (
		r                   *store.Run
		ph                  *store.Phase
		done                bool
		runErr, phErr, bErr error
	)
	var wg sync.WaitGroup
	wg.Go(func() { r, runErr = p.store.GetRun(ctx, msg.RunID) })
	wg.Go(func() { ph, phErr = p.store.GetPhase(ctx, msg.RunID, msg.PhaseID) })
	wg.Go(func() { _, done, bErr = p.store.GetBatch(ctx, msg.RunID, msg.PhaseID, msg.Batch) })
	wg.Wait()
	if runErr != nil {
		return fmt.Errorf("pipeline.RunBatch: %w", runErr)
	}
	if r.Terminal() {
		logging.FromContext(ctx).Info("run has ended; batch dropped", "status", string(r.Status))
		return nil
	}
	if phErr != nil {
		return fmt.Errorf("pipeline.RunBatch: %w", phErr)
	}
	if msg.Batch >= ph.TotalBatches {
		return errs.Invalid(fmt.Errorf("batch %d out of range (phase has %d)", msg.Batch, ph.TotalBatches))
	}
	if bErr != nil {
		return fmt.Errorf("pipeline.RunBatch: %w", bErr)
	}
	var err error
	var triggered bool
	if done {
		// A redelivery: redo only the fan-in, in case the first attempt
		// died between its batch document and the phase-done message.
		triggered, err = p.store.CheckPhaseComplete(ctx, msg.RunID, msg.PhaseID)
	} else {
		if stop, err := p.batchOverBudget(ctx, r, ph, msg.Batch); stop || err != nil {
			return err
		}
		var b store.Batch
		if b, err = p.scoreBatch(ctx, r, ph, msg.Batch); err != nil {
			return err
		}
		if err := p.fault(ctx, fault.BatchAfterResults, batchKey(msg)); err != nil {
			return err
		}
		triggered, err = p.store.CompleteBatch(ctx, msg.RunID, msg.PhaseID, b)
	}
	if err != nil {
		return err
	}
	if err := p.fault(ctx, fault.BatchAfterComplete, batchKey(msg)); err != nil {
		return err
	}
	if triggered {
		return p.queue.PublishPhaseDone(ctx, queue.PhaseDoneMessage{RunID: msg.RunID, PhaseID: msg.PhaseID})
	}
	return nil
}
