package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/promptml/promptml/shared/blob"
	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/fault"
	"github.com/promptml/promptml/shared/store"
)

// finishPhase summarizes a claimed phase: every batch's results at the
// pass threshold, the corpus value, the usage; the prompt's score, the
// event and the analytics rows; then the phase is done.
func (p *Pipeline) finishPhase(ctx context.Context, r *store.Run, ph *store.Phase) error {
	cfg, err := runConfig(r)
	if err != nil {
		return err
	}
	results, batches, err := p.readResults(ctx, r.ID, ph)
	if err != nil {
		return err
	}
	outcomes := make([]eval.Outcome, len(results))
	var preds, refs []string
	for i, res := range results {
		if res.Score == nil {
			outcomes[i] = eval.Outcome{Err: res.Error}
			continue
		}
		outcomes[i] = eval.Outcome{Value: *res.Score}
		preds, refs = append(preds, res.Actual), append(refs, res.Expected)
	}
	metric, err := scoringMetric(cfg)
	if err != nil {
		return err
	}
	sum := eval.SummarizeOutcomes(outcomes, eval.Threshold(metric))
	done := store.Phase{Metrics: &sum}
	for _, b := range batches {
		done.Usage = done.Usage.Add(b.Usage)
		done.UsageByModel = addByModel(done.UsageByModel, b.UsageByModel)
	}
	if v, ok, err := eval.Corpus(metric, preds, refs); err == nil && ok {
		done.Corpus = &v
	}
	// Everything derived from the phase is written before it is marked done:
	// a redelivery skips a done phase, so nothing after FinishPhase would be
	// retried. Each of these writes is idempotent.
	if err := p.store.UpdatePrompt(ctx, r.ID, ph.PromptID, map[string]any{"scores": map[string]any{ph.Split: sum}}); err != nil {
		return err
	}
	msg := fmt.Sprintf("Scored prompt %s on %s: mean %.3f, pass rate %.3f (95%% CI %.3f–%.3f) over %d examples",
		ph.PromptID, ph.Split, sum.Mean, sum.PassRate, sum.CILow, sum.CIHigh, sum.N)
	if sum.Errors > 0 {
		msg += fmt.Sprintf(", %d errors not scored", sum.Errors)
	}
	p.event(ctx, r.ID, "phase-done/"+ph.ID, store.Event{Kind: "phase", Message: msg + ".", Epoch: r.Epoch, PhaseID: ph.ID,
		Data: map[string]any{"split": ph.Split, "prompt_id": ph.PromptID, "mean": sum.Mean, "pass_rate": sum.PassRate}})
	p.reportPhase(ctx, r.ID, ph, results)
	p.reportModelUsage(ctx, r.ID, "phase", ph.ID, done.UsageByModel)
	if err := p.fault(ctx, fault.AggregateAfterSummary, ph.ID); err != nil {
		return err
	}
	return p.store.FinishPhase(ctx, r.ID, ph.ID, done)
}

// ExportedPrompt is prompt.json of an export.
type ExportedPrompt struct {
	RunID        string `json:"run_id"`
	PromptID     string `json:"prompt_id"`
	Parent       string `json:"parent,omitempty"`
	Epoch        int    `json:"epoch"`
	SystemPrompt string `json:"system_prompt"`
	// UserTemplate is the template of the user turn (prompt.user) and
	// Variables the dataset's columns the templates may name: the three
	// templates are rendered with a row's variables (docs/config.md).
	UserTemplate string                  `json:"user_template"`
	OutputPrompt string                  `json:"output_prompt"`
	Variables    []string                `json:"variables"`
	Examples     []store.Demo            `json:"examples"`
	Scores       map[string]eval.Summary `json:"scores"`
}

// SystemInstruction is the system instruction the primary model receives
// for prompt p: its system prompt with the few-shot demonstrations
// rendered in, exactly as PrimaryRequest builds it.
func SystemInstruction(p *store.Prompt) string {
	return withDemos(p.System, p.Examples)
}

// SingleInstruction is prompt p as one system instruction, ready to paste
// where only one prompt goes: the system prompt, the output prompt, then
// the demonstrations, rendered as PrimaryRequest renders them. Sent as the
// system instruction with an input as the user message, it carries every
// instruction the scored request did.
func SingleInstruction(p *store.Prompt) string {
	one := *p
	if strings.TrimSpace(p.Output) != "" {
		one.System = strings.TrimRight(p.System, "\n") + "\n\n" + p.Output
		if strings.TrimSpace(p.System) == "" {
			one.System = p.Output
		}
	}
	one.Output = ""
	return SystemInstruction(&one)
}

// ExportOf is the export of prompt version pr of run r.
func ExportOf(r *store.Run, pr *store.Prompt) (ExportedPrompt, error) {
	cfg, err := runConfig(r)
	if err != nil {
		return ExportedPrompt{}, err
	}
	return ExportedPrompt{RunID: r.ID, PromptID: pr.ID, Parent: pr.Parent, Epoch: pr.Epoch,
		SystemPrompt: pr.System, UserTemplate: userTemplate(pr, cfg), OutputPrompt: pr.Output,
		Variables: runVariables(r), Examples: pr.Examples, Scores: pr.Scores}, nil
}

// Export writes a prompt's system.txt, output.txt and prompt.json under
// runs/{run}/export/.
func (p *Pipeline) Export(ctx context.Context, r *store.Run, pr *store.Prompt) error {
	ex, err := ExportOf(r, pr)
	if err != nil {
		return err
	}
	js, err := json.MarshalIndent(ex, "", "  ")
	if err != nil {
		return fmt.Errorf("pipeline.Export: %w", err)
	}
	// system.txt is the system instruction as the model received it, the
	// few-shot demonstrations included (issue 17 item 1): copied with
	// output.txt, it is the prompt that scored. prompt.json keeps the parts.
	system := SystemInstruction(pr)
	for name, data := range map[string][]byte{"system.txt": []byte(system), "output.txt": []byte(pr.Output), "prompt.json": js} {
		ct := "text/plain; charset=utf-8"
		if strings.HasSuffix(name, ".json") {
			ct = "application/json"
		}
		if err := p.blob.Write(ctx, p.cfg.ArtifactsBucket, blob.ExportPath(r.ID, name), ct, data); err != nil {
			return err
		}
	}
	return nil
}
