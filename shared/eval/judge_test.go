package eval

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/promptml/promptml/shared/llm"
)

// scriptedJudge replies with the given texts in turn and records requests.
type scriptedJudge struct {
	replies []string
	err     error
	reqs    []*llm.Request
}

func (j *scriptedJudge) Generate(_ context.Context, req *llm.Request) (*llm.Response, error) {
	j.reqs = append(j.reqs, req)
	if j.err != nil {
		return nil, j.err
	}
	text := j.replies[(len(j.reqs)-1)%len(j.replies)]
	return &llm.Response{Text: text}, nil
}

func verdictJSON(score int) string {
	return fmt.Sprintf(`{"reasoning":"because %d","score":%d}`, score, score)
}

func TestLLMJudge(t *testing.T) {
	tests := []struct {
		name      string
		options   map[string]any
		replies   []string
		want      float64
		wantExpl  string
		wantCalls int
	}{
		{name: "one verdict", replies: []string{verdictJSON(7)}, want: 0.7, wantExpl: "because 7", wantCalls: 1},
		{name: "scale 5", options: map[string]any{"scale": 5}, replies: []string{verdictJSON(4)}, want: 0.8, wantCalls: 1},
		{name: "fenced verdict", replies: []string{"```json\n" + verdictJSON(10) + "\n```"}, want: 1, wantCalls: 1},
		// Three repeats 8, 8, 2: mean 6/10, agreement 2/3 — a flip-flopping
		// judge shows in the explanation.
		{name: "repeats disagree", options: map[string]any{"repeats": 3}, replies: []string{verdictJSON(8), verdictJSON(8), verdictJSON(2)}, want: 0.6, wantExpl: "agreement 0.67, scores [8 8 2]", wantCalls: 3},
		{name: "repeats agree", options: map[string]any{"repeats": 2}, replies: []string{verdictJSON(0)}, want: 0, wantExpl: "agreement 1.00", wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := map[string]any{"rubric": "The answer names the capital city."}
			for k, v := range tt.options {
				opts[k] = v
			}
			j := &scriptedJudge{replies: tt.replies}
			m, err := Build([]Spec{{Name: "llm_judge", Options: opts}}, Deps{Judge: j})
			if err != nil {
				t.Fatal(err)
			}
			s, err := m.Score(t.Context(), "Paris", "Paris")
			if err != nil {
				t.Fatal(err)
			}
			if diff := s.Value - tt.want; diff > 1e-12 || diff < -1e-12 {
				t.Errorf("Value = %v, want %v", s.Value, tt.want)
			}
			if !strings.Contains(s.Explanation, tt.wantExpl) {
				t.Errorf("Explanation = %q, want it to contain %q", s.Explanation, tt.wantExpl)
			}
			if len(j.reqs) != tt.wantCalls {
				t.Errorf("judge called %d times, want %d", len(j.reqs), tt.wantCalls)
			}
		})
	}
}

func TestLLMJudgeRequest(t *testing.T) {
	j := &scriptedJudge{replies: []string{verdictJSON(5)}}
	m, err := Build([]Spec{{Name: "llm_judge", Options: map[string]any{
		"rubric": "Polite and correct.", "model": "gemini-judge", "temperature": 0.0,
	}}}, Deps{Judge: j})
	if err != nil {
		t.Fatal(err)
	}
	ctx := WithInput(t.Context(), "What is the capital of France?")
	if _, err := m.Score(ctx, "Paris, obviously.", "Paris"); err != nil {
		t.Fatal(err)
	}
	req := j.reqs[0]
	if req.Purpose != "judge" || req.Model != "gemini-judge" || req.Temperature == nil || *req.Temperature != 0 {
		t.Errorf("request Purpose=%q Model=%q Temperature=%v, want judge, gemini-judge, 0", req.Purpose, req.Model, req.Temperature)
	}
	if req.ResponseSchema == nil || req.ResponseSchema["type"] != "object" {
		t.Errorf("ResponseSchema = %v, want a JSON object schema", req.ResponseSchema)
	}
	for _, want := range []string{"Polite and correct.", "What is the capital of France?", "<reference>\nParis\n</reference>", "Paris, obviously."} {
		if !strings.Contains(req.Prompt, want) {
			t.Errorf("prompt lacks %q:\n%s", want, req.Prompt)
		}
	}

	// include_reference false hides the ground truth from the judge.
	j = &scriptedJudge{replies: []string{verdictJSON(5)}}
	m, err = Build([]Spec{{Name: "llm_judge", Options: map[string]any{"rubric": "r", "include_reference": false}}}, Deps{Judge: j})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Score(t.Context(), "answer", "SECRET-REFERENCE"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(j.reqs[0].Prompt, "SECRET-REFERENCE") {
		t.Error("prompt shows the reference although include_reference is false")
	}
}

func TestLLMJudgeErrorsAreNotScores(t *testing.T) {
	transient := &llm.Error{Kind: llm.Transient, Code: 503, Reason: "unavailable", Err: errors.New("try later")}
	tests := []struct {
		name    string
		judge   Generator
		repeats int
		want    string
	}{
		{name: "no judge", judge: nil, repeats: 1, want: "no judge model configured"},
		{name: "provider error", judge: &scriptedJudge{err: transient}, repeats: 1, want: "Generate"},
		{name: "not json", judge: &scriptedJudge{replies: []string{"I'd say 7/10"}}, repeats: 1, want: "not JSON"},
		{name: "score out of range", judge: &scriptedJudge{replies: []string{verdictJSON(11)}}, repeats: 1, want: "outside [0,10]"},
		{name: "score missing", judge: &scriptedJudge{replies: []string{`{"reasoning":"x"}`}}, repeats: 1, want: "missing"},
		{name: "one bad repeat", judge: &scriptedJudge{replies: []string{verdictJSON(5), "oops"}}, repeats: 2, want: "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deps := Deps{}
			if tt.judge != nil {
				deps.Judge = tt.judge
			}
			m, err := Build([]Spec{{Name: "llm_judge", Options: map[string]any{"rubric": "r", "repeats": tt.repeats}}}, deps)
			if err != nil {
				t.Fatal(err)
			}
			_, err = m.Score(t.Context(), "a", "b")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Score error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	// The provider's classification survives the wrapping, so the batch
	// knows to retry.
	m, _ := Build([]Spec{{Name: "llm_judge", Options: map[string]any{"rubric": "r"}}}, Deps{Judge: &scriptedJudge{err: transient}})
	if _, err := m.Score(t.Context(), "a", "b"); !llm.IsTransient(err) {
		t.Errorf("IsTransient(%v) = false, want true", err)
	}
}

func TestLLMJudgeUnicodeAndEmpty(t *testing.T) {
	tests := []struct {
		name, prediction, reference string
	}{
		{"unicode", "東京です 🗼", "東京"},
		{"empty prediction", "", "東京"},
		{"both empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &scriptedJudge{replies: []string{verdictJSON(3)}}
			m, err := Build([]Spec{{Name: "llm_judge", Options: map[string]any{"rubric": "Names the city.", "scale": 3}}}, Deps{Judge: j})
			if err != nil {
				t.Fatal(err)
			}
			s, err := m.Score(t.Context(), tt.prediction, tt.reference)
			if err != nil {
				t.Fatal(err)
			}
			if s.Value != 1 {
				t.Errorf("Value = %v, want 1 (3 of 3)", s.Value)
			}
			// The judge sees exactly what was answered, even nothing.
			if want := "<answer>\n" + tt.prediction + "\n</answer>"; !strings.Contains(j.reqs[0].Prompt, want) {
				t.Errorf("prompt lacks %q:\n%s", want, j.reqs[0].Prompt)
			}
		})
	}
}

// mapCache is an in-memory llm.Cache.
type mapCache map[string][]byte

func (c mapCache) Get(_ context.Context, key string) ([]byte, bool, error) {
	b, ok := c[key]
	return b, ok, nil
}

func (c mapCache) Put(_ context.Context, key string, value []byte) error {
	c[key] = value
	return nil
}

// TestLLMJudgeRepeatsNotCached: behind the response cache, every repeat of
// the judge is a paid call of its own (a distinct sample), so repeats
// really sample the judge instead of replaying the first verdict.
func TestLLMJudgeRepeatsNotCached(t *testing.T) {
	j := &scriptedJudge{replies: []string{verdictJSON(8), verdictJSON(2), verdictJSON(5)}}
	meter := &llm.Meter{}
	client := &llm.Client{Next: j, Key: "sim/judge", Cache: mapCache{}, CacheMode: llm.CacheReadWrite, Meter: meter}
	m, err := Build([]Spec{{Name: "llm_judge", Options: map[string]any{"rubric": "r", "repeats": 3}}}, Deps{Judge: client})
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Score(t.Context(), "Paris", "Paris")
	if err != nil {
		t.Fatal(err)
	}
	if got := meter.Total(); got.Calls != 3 || got.CacheHits != 0 {
		t.Errorf("calls %d, cache hits %d; want 3 paid calls, 0 hits", got.Calls, got.CacheHits)
	}
	if diff := s.Value - 0.5; diff > 1e-12 || diff < -1e-12 {
		t.Errorf("Value = %v, want 0.5 (mean of 8, 2, 5 over 10)", s.Value)
	}
	// The same score asked again is answered from the cache, repeat by repeat.
	if _, err := m.Score(t.Context(), "Paris", "Paris"); err != nil {
		t.Fatal(err)
	}
	if got := meter.Total(); got.Calls != 3 || got.CacheHits != 3 {
		t.Errorf("second score: calls %d, cache hits %d; want 3 and 3", got.Calls, got.CacheHits)
	}
}
