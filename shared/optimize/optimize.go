package optimize

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/promptml/promptml/prompts"
	"github.com/promptml/promptml/shared/llm"
)

// generator is the model the optimizer calls.
type generator interface {
	Generate(ctx context.Context, req *llm.Request) (*llm.Response, error)
}

// Request is what one proposal needs.
type Request struct {
	// MetaPrompt overrides the strategy's embedded meta-prompt when set.
	MetaPrompt  string
	Model       string
	Temperature float64
	// MaxOutputTokens caps the reply (0 = provider default).
	MaxOutputTokens int
	Data            Data
}

// Propose asks the optimizer model for one candidate. A reply that cannot be
// parsed is returned as a *ParseError so the caller can record it.
func Propose(ctx context.Context, gen generator, req Request) (Proposal, llm.Usage, error) {
	meta := req.MetaPrompt
	if meta == "" {
		var err error
		if meta, err = prompts.Optimizer(req.Data.Strategy); err != nil {
			return Proposal{}, llm.Usage{}, err
		}
	}
	block, err := EncodeData(req.Data)
	if err != nil {
		return Proposal{}, llm.Usage{}, err
	}
	temp := req.Temperature
	resp, err := gen.Generate(ctx, &llm.Request{
		Model:           req.Model,
		Prompt:          strings.Replace(meta, "{{DATA}}", block, 1),
		Temperature:     &temp,
		MaxOutputTokens: req.MaxOutputTokens,
		ResponseSchema:  ProposalSchema(),
		Purpose:         "optimizer",
	})
	if err != nil {
		return Proposal{}, llm.Usage{}, fmt.Errorf("optimize.Propose: %w", err)
	}
	p, err := ParseProposal(resp.Text)
	if err != nil {
		return Proposal{}, resp.Usage, err
	}
	return p, resp.Usage, nil
}

// ParseError is an optimizer reply that is not a valid proposal.
type ParseError struct {
	Reason string
	Text   string
}

func (e *ParseError) Error() string {
	t := e.Text
	if len(t) > 200 {
		t = t[:200] + "…"
	}
	return fmt.Sprintf("optimizer reply is not a valid proposal: %s (reply: %q)", e.Reason, t)
}

var (
	fence         = regexp.MustCompile("(?s)^\\s*```[a-zA-Z]*\\s*\n(.*?)\n?```\\s*$")
	trailingComma = regexp.MustCompile(`,\s*([}\]])`)
)

// ParseProposal parses the optimizer's JSON reply tolerantly: code fences,
// text around the object and trailing commas are accepted.
func ParseProposal(text string) (Proposal, error) {
	s := strings.TrimSpace(text)
	if m := fence.FindStringSubmatch(s); m != nil {
		s = m[1]
	}
	if i, j := strings.Index(s, "{"), strings.LastIndex(s, "}"); i >= 0 && j > i {
		s = s[i : j+1]
	}
	var p Proposal
	err := json.Unmarshal([]byte(s), &p)
	if err != nil {
		if err2 := json.Unmarshal([]byte(trailingComma.ReplaceAllString(s, "$1")), &p); err2 != nil {
			return Proposal{}, &ParseError{Reason: err.Error(), Text: text}
		}
	}
	if strings.TrimSpace(p.SystemPrompt) == "" && strings.TrimSpace(p.OutputPrompt) == "" {
		return Proposal{}, &ParseError{Reason: "system_prompt and output_prompt are both empty", Text: text}
	}
	return p, nil
}

// Scored is one scored example as the pipeline stores it.
type Scored struct {
	Input    string
	Expected string
	Actual   string
	Score    float64
	// Failed is true for an example whose answer could not be produced (an
	// LLM error): it is not a failure of the prompt.
	Failed bool
}

// SelectFailures returns the k lowest-scoring examples below threshold; if
// nothing is below it, the k lowest-scoring ones, so the optimizer still has
// something to learn from. Errors are skipped.
func SelectFailures(examples []Scored, threshold float64, k int) []Example {
	var ok []Scored
	for _, e := range examples {
		if !e.Failed {
			ok = append(ok, e)
		}
	}
	sort.SliceStable(ok, func(i, j int) bool { return ok[i].Score < ok[j].Score })
	var below []Scored
	for _, e := range ok {
		if e.Score < threshold {
			below = append(below, e)
		}
	}
	if len(below) == 0 {
		below = ok
	}
	if len(below) > k {
		below = below[:k]
	}
	out := make([]Example, len(below))
	for i, e := range below {
		out[i] = Example{Input: e.Input, Expected: e.Expected, Actual: e.Actual, Score: e.Score}
	}
	return out
}
