package optimizer

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/promptml/promptml/shared/llm"
)

func request(t *testing.T, meta string, d data, schema map[string]any, temp float64) *llm.Request {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return &llm.Request{Purpose: "optimizer", Prompt: meta + "\n" + beginData + "\n" + string(b) + "\n" + endData,
		ResponseSchema: schema, Temperature: &temp}
}

var fails = []example{
	{Input: "Translate to French: I see the cat", Expected: "Je vois le chat", Actual: "Sure! Here is the translation:\n\"Je vois le chat\""},
	{Input: "Translate to French: We like the dog", Expected: "Nous aimons le chien", Actual: "\"Nous aimons le chien\" I hope this helps!"},
	{Input: "Translate to French: They want bread", Expected: "Ils veulent du pain", Actual: "Answer: **Ils veulent du pain**."},
}

const improve = "Improve the prompts so answers match. Answer with JSON: {\"system_prompt\": \"...\", \"output_prompt\": \"...\", \"reasoning\": \"...\"}"

// TestReadsFailures: the rewrite names and quotes what differs, and K
// candidates at temperature > 0 differ; an unrelated meta-prompt is
// answered off-task.
func TestReadsFailures(t *testing.T) {
	m := New(Options{Seed: 1, EchoRate: -1})
	d := data{Strategy: "rewrite", SystemPrompt: "You are a helpful assistant.", OutputPrompt: "Answer the request.", Failures: fails}
	got, err := m.Answer(request(t, improve, d, nil, 0))
	if err != nil {
		t.Fatal(err)
	}
	var r reply
	if err := json.Unmarshal([]byte(got), &r); err != nil || r.OutputPrompt == nil {
		t.Fatalf("reply %q: %v", got, err)
	}
	for _, want := range []string{"surrounding quotes", "Sure! Here is the translation:", "markdown bold", "a label before the answer"} {
		if !strings.Contains(r.Reasoning, want) {
			t.Errorf("reasoning %q lacks %q", r.Reasoning, want)
		}
	}
	if *r.OutputPrompt == d.OutputPrompt {
		t.Errorf("output prompt unchanged")
	}
	outs := map[string]bool{}
	for c := range 4 {
		d.Candidate = c
		got, err := m.Answer(request(t, improve, d, nil, 0.7))
		if err != nil {
			t.Fatal(err)
		}
		outs[got] = true
	}
	if len(outs) < 2 {
		t.Errorf("4 candidates at temperature 0.7 gave %d distinct replies", len(outs))
	}
	off, err := m.Answer(request(t, "Write a haiku about cats", d, nil, 0))
	if err != nil {
		t.Fatal(err)
	}
	if json.Valid([]byte(off)) || strings.Contains(off, "prompt") {
		t.Errorf("off-task reply %q; want prose", off)
	}
}

// TestAvoidsRejectedWordings: a candidate the history shows rejected, at a
// score no better than the incumbent's, is not proposed again: its
// sentences are not drawn a second time. Over many seeds, so that a draw
// that merely differs by chance does not pass for avoidance.
func TestAvoidsRejectedWordings(t *testing.T) {
	propose := func(m *Model, d data) string {
		t.Helper()
		got, err := m.Answer(request(t, improve, d, nil, 0))
		if err != nil {
			t.Fatal(err)
		}
		var r reply
		if err := json.Unmarshal([]byte(got), &r); err != nil || r.OutputPrompt == nil {
			t.Fatalf("reply %q: %v", got, err)
		}
		return *r.OutputPrompt
	}
	for seed := range int64(40) {
		m := New(Options{Seed: seed, EchoRate: -1})
		d := data{Strategy: "rewrite", SystemPrompt: "You are a helpful assistant.", OutputPrompt: "Answer the request.", Failures: fails}
		before := propose(m, d)
		added := strings.TrimSpace(strings.TrimPrefix(before, d.OutputPrompt))
		if added == "" {
			t.Fatalf("seed %d: first proposal %q added nothing", seed, before)
		}
		d.History = []historyEntry{{SystemPrompt: d.SystemPrompt, OutputPrompt: before, ValScore: 0, Accepted: false}}
		after := propose(m, d)
		for _, s := range strings.SplitAfter(added, ". ") {
			if s = strings.TrimSpace(s); s != "" && strings.Contains(after, s) {
				t.Errorf("seed %d: proposal %q repeats %q of the rejected candidate", seed, after, s)
			}
		}
	}
}
