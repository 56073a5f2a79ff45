package optimize

import (
	"fmt"
	"strings"
)

// Strategies.
const (
	// StrategyRewrite: the optimizer returns both prompts in full.
	StrategyRewrite = "rewrite"
	// StrategyEdit: the optimizer returns edits on quoted spans.
	StrategyEdit = "edit"
	// StrategyFewShot: the optimizer picks training examples as
	// demonstrations.
	StrategyFewShot = "fewshot"
	// StrategyAuto picks one of the three per epoch (pipeline).
	StrategyAuto = "auto"
)

// Strategies lists the concrete strategies in the order auto tries them.
var Strategies = []string{StrategyRewrite, StrategyEdit, StrategyFewShot}

// Proposal is the optimizer's reply. Which fields count depends on the
// strategy: rewrite sets both prompts, edit sets Edits, fewshot sets Demos.
type Proposal struct {
	SystemPrompt string `json:"system_prompt,omitempty"`
	OutputPrompt string `json:"output_prompt,omitempty"`
	// UserTemplate is a rewrite's user template, used only when the
	// optimizer may change it (Data.EditUserTemplate).
	UserTemplate string `json:"user_template,omitempty"`
	// Edits are applied in order to the current prompts (edit strategy).
	Edits []Edit `json:"edits,omitempty"`
	// Demos are pool IDs, in the order they go into the prompt (fewshot).
	Demos     []string `json:"demos,omitempty"`
	Reasoning string   `json:"reasoning"`
}

// Edit operations.
const (
	OpReplace = "replace"
	OpInsert  = "insert"
	OpDelete  = "delete"
)

// Edit is one targeted change to a quoted span of the current prompt.
type Edit struct {
	// Op is replace, insert or delete.
	Op string `json:"op"`
	// Target is system_prompt or output_prompt.
	Target string `json:"target"`
	// Quote is the exact span to act on; it must occur exactly once in the
	// target. For insert it is the anchor the text goes right after; an
	// empty quote appends to the end of the target.
	Quote string `json:"quote"`
	// Text is the replacement or inserted text (unused by delete).
	Text string `json:"text,omitempty"`
}

// ApplyEdits applies edits in order to the prompts. Each quote must occur
// exactly once, verbatim, in its target as the previous edits left it:
// nothing is applied fuzzily. Every failing edit is reported, numbered, so
// the optimizer can fix them all at once.
func ApplyEdits(system, output string, edits []Edit) (string, string, error) {
	if err := applyEdits(map[string]*string{"system_prompt": &system, "output_prompt": &output}, edits); err != nil {
		return "", "", err
	}
	return system, output, nil
}

// applyEdits applies edits to the texts of targets, by target name, or to
// none of them (see ApplyEdits).
func applyEdits(targets map[string]*string, edits []Edit) error {
	work := make(map[string]*string, len(targets))
	for k, v := range targets {
		s := *v
		work[k] = &s
	}
	var errs []string
	for i, e := range edits {
		dst, ok := work[e.Target]
		if !ok {
			errs = append(errs, fmt.Sprintf("edit %d: target must be %s, got %q", i+1, targetList(targets), e.Target))
			continue
		}
		if e.Op == OpInsert && e.Quote == "" {
			*dst += e.Text
			continue
		}
		switch e.Op {
		case OpReplace, OpInsert, OpDelete:
		default:
			errs = append(errs, fmt.Sprintf("edit %d: op must be replace, insert or delete, got %q", i+1, e.Op))
			continue
		}
		if e.Quote == "" {
			errs = append(errs, fmt.Sprintf("edit %d (%s): quote is empty; quote the exact span to %s", i+1, e.Op, e.Op))
			continue
		}
		if n := strings.Count(*dst, e.Quote); n != 1 {
			errs = append(errs, fmt.Sprintf("edit %d (%s in %s): the quote %q occurs %d times in the current text; it must occur exactly once, copied verbatim",
				i+1, e.Op, e.Target, clip(e.Quote, 80), n))
			continue
		}
		j := strings.Index(*dst, e.Quote)
		switch e.Op {
		case OpReplace:
			*dst = (*dst)[:j] + e.Text + (*dst)[j+len(e.Quote):]
		case OpInsert:
			k := j + len(e.Quote)
			*dst = (*dst)[:k] + e.Text + (*dst)[k:]
		case OpDelete:
			*dst = (*dst)[:j] + (*dst)[j+len(e.Quote):]
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("edits do not apply (none was applied): %s", strings.Join(errs, "; "))
	}
	for k, v := range work {
		*targets[k] = *v
	}
	return nil
}

// targetList names the edit targets for a message, in a fixed order.
func targetList(targets map[string]*string) string {
	var names []string
	for _, n := range []string{"system_prompt", "output_prompt", "user_template"} {
		if _, ok := targets[n]; ok {
			names = append(names, n)
		}
	}
	if len(names) == 2 {
		return names[0] + " or " + names[1]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// proposalSchema is ProposalSchema for d's strategy, with the user
// template among the fields or edit targets when d lets the optimizer
// change it.
func proposalSchema(d Data) map[string]any {
	s := ProposalSchema(d.Strategy)
	if !d.EditUserTemplate {
		return s
	}
	props := s["properties"].(map[string]any)
	switch d.Strategy {
	case StrategyEdit:
		item := props["edits"].(map[string]any)["items"].(map[string]any)
		item["properties"].(map[string]any)["target"] = map[string]any{"type": "string", "enum": []any{"system_prompt", "output_prompt", "user_template"}}
	case StrategyFewShot:
	default:
		props["user_template"] = map[string]any{"type": "string"}
	}
	return s
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// ProposalSchema is the JSON response schema of a strategy's reply.
func ProposalSchema(strategy string) map[string]any {
	str := map[string]any{"type": "string"}
	switch strategy {
	case StrategyEdit:
		return map[string]any{
			"type": "object",
			"properties": map[string]any{
				"edits": map[string]any{"type": "array", "items": map[string]any{
					"type": "object",
					"properties": map[string]any{
						"op":     map[string]any{"type": "string", "enum": []any{OpReplace, OpInsert, OpDelete}},
						"target": map[string]any{"type": "string", "enum": []any{"system_prompt", "output_prompt"}},
						"quote":  str,
						"text":   str,
					},
					"required": []any{"op", "target", "quote"},
				}},
				"reasoning": str,
			},
			"required": []any{"edits", "reasoning"},
		}
	case StrategyFewShot:
		return map[string]any{
			"type": "object",
			"properties": map[string]any{
				"demos":     map[string]any{"type": "array", "items": str},
				"reasoning": str,
			},
			"required": []any{"demos", "reasoning"},
		}
	}
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"system_prompt": str,
			"output_prompt": str,
			"reasoning":     str,
		},
		"required": []any{"system_prompt", "output_prompt", "reasoning"},
	}
}
