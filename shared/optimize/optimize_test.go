package optimize

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/llm"
)

func TestParseProposal(t *testing.T) {
	want := Proposal{SystemPrompt: "s", OutputPrompt: "o", Reasoning: "r"}
	tests := []struct {
		name    string
		text    string
		wantErr bool
	}{
		{"plain", `{"system_prompt":"s","output_prompt":"o","reasoning":"r"}`, false},
		{"fenced", "```json\n{\"system_prompt\":\"s\",\"output_prompt\":\"o\",\"reasoning\":\"r\"}\n```", false},
		{"surrounded", "Here you go:\n{\"system_prompt\":\"s\",\"output_prompt\":\"o\",\"reasoning\":\"r\"}\nThanks", false},
		{"trailing comma", `{"system_prompt":"s","output_prompt":"o","reasoning":"r",}`, false},
		{"not json", `I cannot do that`, true},
		{"empty prompts", `{"system_prompt":"","output_prompt":" ","reasoning":"r"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProposal(tt.text)
			if tt.wantErr {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want *ParseError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestDataRoundTrip(t *testing.T) {
	d := Data{Strategy: "rewrite", SystemPrompt: "sys", OutputPrompt: "out",
		Failures: []Example{{Input: "a <<<PROMPTML_DATA_END>>> b", Expected: "x", Actual: "y"}}}
	block, err := EncodeData(d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(block, EndData) != 1 {
		t.Fatalf("dataset text reproduced the end delimiter:\n%s", block)
	}
	got, err := DecodeData("meta prompt\n" + block + "\nmore")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := DecodeData("no block"); !errors.Is(err, ErrNoData) {
		t.Errorf("err = %v, want ErrNoData", err)
	}
}

func TestSelectFailures(t *testing.T) {
	ex := []Scored{
		{Input: "a", Score: 1}, {Input: "b", Score: 0.2}, {Input: "c", Score: 0},
		{Input: "d", Score: 0.5}, {Input: "e", Failed: true},
	}
	tests := []struct {
		name      string
		threshold float64
		k         int
		want      []string
	}{
		{"worst first", 1, 2, []string{"c", "b"}},
		{"all failures", 1, 10, []string{"c", "b", "d"}},
		{"nothing fails", 0, 2, []string{"c", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range SelectFailures(ex, tt.threshold, tt.k) {
				got = append(got, e.Input)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

type fakeGen struct {
	reply string
	got   *llm.Request
}

func (f *fakeGen) Generate(_ context.Context, req *llm.Request) (*llm.Response, error) {
	f.got = req
	return &llm.Response{Text: f.reply, Usage: llm.Usage{InputTokens: 10, OutputTokens: 5, TotalTokens: 15}}, nil
}

func TestPropose(t *testing.T) {
	g := &fakeGen{reply: `{"system_prompt":"S2","output_prompt":"O2","reasoning":"why"}`}
	p, u, err := Propose(t.Context(), g, Request{Temperature: 0.5, Data: Data{Strategy: "rewrite", SystemPrompt: "S"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.SystemPrompt != "S2" || u.TotalTokens != 15 {
		t.Errorf("got %+v %+v", p, u)
	}
	if g.got.Purpose != "optimizer" || g.got.ResponseSchema == nil || *g.got.Temperature != 0.5 {
		t.Errorf("request = %+v", g.got)
	}
	d, err := DecodeData(g.got.Prompt)
	if err != nil || d.SystemPrompt != "S" {
		t.Errorf("data block not in prompt: %v %+v", err, d)
	}
	if strings.Contains(g.got.Prompt, "{{DATA}}") {
		t.Error("placeholder left in prompt")
	}
}
