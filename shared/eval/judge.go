package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/promptml/promptml/shared/llm"
)

func init() { register("llm_judge", newJudge) }

type inputKey struct{}

// WithInput attaches the example's input (the user_input the prediction
// answers) to ctx, so metrics that judge an answer in context, like
// llm_judge, can show it to the judge.
func WithInput(ctx context.Context, input string) context.Context {
	return context.WithValue(ctx, inputKey{}, input)
}

func inputFrom(ctx context.Context) (string, bool) {
	s, ok := ctx.Value(inputKey{}).(string)
	return s, ok
}

// judge asks a model to grade the prediction against a rubric.
type judge struct {
	base
	gen              Generator
	rubric           string
	scale            int
	repeats          int
	model            string
	temperature      *float64
	includeReference bool
}

// newJudge: options rubric (required), scale (points of the judge's score,
// 0..scale; default 10), repeats (1..10, default 1: asks k times and reports
// the agreement), model (overrides the judge provider's default),
// temperature (provider default), include_reference (true), threshold (0.7).
func newJudge(o *options, deps Deps) Metric {
	m := &judge{
		base:             base{name: "llm_judge", threshold: 0.7},
		gen:              deps.Judge,
		rubric:           strings.TrimSpace(o.string("rubric", "")),
		scale:            o.int("scale", 10, 1, 100),
		repeats:          o.int("repeats", 1, 1, 10),
		model:            o.string("model", ""),
		includeReference: o.bool("include_reference", true),
	}
	if m.rubric == "" {
		o.fail("rubric", "required")
	}
	if t, ok := o.optFloat("temperature"); ok {
		if t < 0 || t > 2 {
			o.fail("temperature", "must be in [0,2]")
		}
		m.temperature = &t
	}
	return m
}

const judgeSystem = `You grade answers. Apply the rubric exactly and independently of the answer's length or style unless the rubric says otherwise. Reply with JSON only: first your reasoning in one or two sentences, then an integer score.`

func (m *judge) prompt(ctx context.Context, prediction, reference string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Rubric\n%s\n\n", m.rubric)
	fmt.Fprintf(&b, "# Scale\nScore from 0 (fails the rubric entirely) to %d (fully meets it).\n\n", m.scale)
	if in, ok := inputFrom(ctx); ok {
		fmt.Fprintf(&b, "# Input the answer responds to\n<input>\n%s\n</input>\n\n", in)
	}
	if m.includeReference {
		fmt.Fprintf(&b, "# Reference answer\n<reference>\n%s\n</reference>\n\n", reference)
	}
	fmt.Fprintf(&b, "# Answer to grade\n<answer>\n%s\n</answer>\n", prediction)
	return b.String()
}

func (m *judge) schema() map[string]any {
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"reasoning": map[string]any{"type": "string"},
			"score":     map[string]any{"type": "integer", "minimum": 0, "maximum": m.scale},
		},
		"required": []any{"reasoning", "score"},
	}
}

// verdict is the judge's JSON reply.
type verdict struct {
	Reasoning string   `json:"reasoning"`
	Score     *float64 `json:"score"`
}

// Score implements Metric: the mean of the k verdicts divided by scale. Any
// failed call or unreadable verdict makes the whole score an error (a
// partial mean would hide a flaky judge); the llm error stays wrapped so
// llm.IsTransient still classifies it.
func (m *judge) Score(ctx context.Context, prediction, reference string) (Score, error) {
	if m.gen == nil {
		return Score{}, errors.New("llm_judge: no judge model configured (Deps.Judge is nil)")
	}
	req := &llm.Request{
		Model:          m.model,
		System:         judgeSystem,
		Prompt:         m.prompt(ctx, prediction, reference),
		Temperature:    m.temperature,
		ResponseSchema: m.schema(),
		Purpose:        "judge",
	}
	scores := make([]float64, 0, m.repeats)
	var reasoning string
	for i := range m.repeats {
		// Each repeat is its own sample: with the response cache on, the
		// same request would otherwise answer every repeat with the first
		// verdict, and repeats would average nothing.
		rq := *req
		rq.Sample = i
		resp, err := m.gen.Generate(ctx, &rq)
		if err != nil {
			return Score{}, fmt.Errorf("llm_judge: Generate (repeat %d of %d): %w", i+1, m.repeats, err)
		}
		var v verdict
		if err := json.Unmarshal([]byte(stripFences(resp.Text)), &v); err != nil {
			return Score{}, fmt.Errorf("llm_judge: verdict is not JSON: %w (text %q)", err, truncate(resp.Text, 200))
		}
		if v.Score == nil || *v.Score < 0 || *v.Score > float64(m.scale) || math.IsNaN(*v.Score) {
			return Score{}, fmt.Errorf("llm_judge: verdict score missing or outside [0,%d] (text %q)", m.scale, truncate(resp.Text, 200))
		}
		scores = append(scores, *v.Score)
		if i == 0 {
			reasoning = strings.TrimSpace(v.Reasoning)
		}
	}
	var sum float64
	for _, s := range scores {
		sum += s
	}
	value := sum / float64(len(scores)) / float64(m.scale)
	expl := reasoning
	if m.repeats > 1 {
		expl = fmt.Sprintf("agreement %.2f, scores %s: %s", agreement(scores), formatScores(scores), reasoning)
	}
	return Score{Value: clamp01(value), Explanation: expl}, nil
}

// agreement is the fraction of verdicts equal to the most common one: 1 for
// a unanimous judge, 1/k for one that never repeats itself.
func agreement(scores []float64) float64 {
	counts := map[float64]int{}
	best := 0
	for _, s := range scores {
		counts[s]++
		best = max(best, counts[s])
	}
	return float64(best) / float64(len(scores))
}

func formatScores(scores []float64) string {
	parts := make([]string, len(scores))
	for i, s := range scores {
		parts[i] = fmt.Sprintf("%g", s)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
