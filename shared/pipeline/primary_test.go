package pipeline_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/dataset"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/store"
	"github.com/promptml/promptml/shared/template"
)

// legacyPrimaryRequest is PrimaryRequest as it was before templates
// (commit 5b58777): the request a user_input,ground_truth_output CSV with the
// default prompt.user must still produce, byte for byte.
func legacyPrimaryRequest(p *store.Prompt, m config.Model, input string) *llm.Request {
	system := p.System
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
		Model: m.Name, System: system, Prompt: input + "\n\n" + p.Output, Temperature: &temp,
		MaxOutputTokens: m.MaxOutputTokens, Thinking: m.Thinking(), Purpose: "primary",
	}
}

// TestPrimaryRequestDefaultsUnchanged: with the default user template and
// prompts without placeholders, the request (hence the response cache key)
// is exactly the one before templates.
func TestPrimaryRequestDefaultsUnchanged(t *testing.T) {
	def := config.Defaults()
	level := def.Primary
	level.ThinkingLevel, level.MaxOutputTokens, level.Temperature = "low", 256, 1
	tests := []struct {
		name  string
		p     store.Prompt
		m     config.Model
		input string
	}{
		{"defaults", store.Prompt{System: def.Prompt.System, Output: def.Prompt.Output}, def.Primary, "Translate to French: Hello world"},
		{"empty system", store.Prompt{Output: "One word."}, def.Primary, "Great film!"},
		{"demonstrations", store.Prompt{System: "Translate.", Output: "French only.", Examples: []store.Demo{{Input: "Hi", Output: "Salut"}, {Input: "Yes", Output: "Oui"}}}, level, "No"},
		{"JSON braces in the prompts", store.Prompt{System: `Reply as {"label": "…"}.`, Output: `{{"x": 1}} is an example`}, def.Primary, `{"a": 1}`},
		{"input holding placeholders", store.Prompt{System: "s", Output: "o"}, def.Primary, "{{user_input}} {{DATA}} \\{{x}}"},
		{"multi-line input", store.Prompt{System: "s", Output: "o"}, def.Primary, "line 1\r\nline 2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := dataset.Example{ID: "1", Row: 2, UserInput: tt.input, GroundTruth: "x"}
			got, user, err := pipeline.PrimaryRequest(&tt.p, config.DefaultUserTemplate, tt.m, ex.Variables())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(legacyPrimaryRequest(&tt.p, tt.m, tt.input), got); diff != "" {
				t.Errorf("request differs from the one before templates (-before +now):\n%s", diff)
			}
			if user != tt.input {
				t.Errorf("rendered user turn %q, want the input %q", user, tt.input)
			}
			if a, b := llm.CacheKey("sim", legacyPrimaryRequest(&tt.p, tt.m, tt.input)), llm.CacheKey("sim", got); a != b {
				t.Errorf("cache key %s, was %s", b, a)
			}
		})
	}
}

// TestPrimaryRequestTemplates: the three templates are rendered with the
// row's variables; values (and demonstrations) are inserted verbatim, so a
// cell holding {{x}} reaches the model literally.
func TestPrimaryRequestTemplates(t *testing.T) {
	m := config.Defaults().Primary
	tests := []struct {
		name               string
		p                  store.Prompt
		user               string
		vars               map[string]string
		wantSystem, wantPr string
	}{
		{
			name:       "question over a context",
			p:          store.Prompt{System: "Answer from the context only.", Output: "Reply in a few words."},
			user:       "Context: {{context}}\n\nQuestion: {{question}}",
			vars:       map[string]string{"context": "The Loire is the longest river in France.", "question": "Which river is the longest?"},
			wantSystem: "Answer from the context only.",
			wantPr:     "Context: The Loire is the longest river in France.\n\nQuestion: Which river is the longest?\n\nReply in a few words.",
		},
		{
			name:       "variables in the system and output prompts",
			p:          store.Prompt{System: "You translate into {{lang}}.", Output: "Only {{lang}}."},
			user:       "{{text}}",
			vars:       map[string]string{"lang": "French", "text": "Good morning"},
			wantSystem: "You translate into French.",
			wantPr:     "Good morning\n\nOnly French.",
		},
		{
			name:       "a cell holding {{x}} stays literal",
			p:          store.Prompt{System: "Translate into {{lang}}.", Output: "Answer."},
			user:       "{{text}}",
			vars:       map[string]string{"lang": "{{text}}", "text": "Write {{lang}} and {{DATA}}", "x": "EXPANDED"},
			wantSystem: "Translate into {{text}}.",
			wantPr:     "Write {{lang}} and {{DATA}}\n\nAnswer.",
		},
		{
			name:       "escaped braces",
			p:          store.Prompt{System: `Fill \{{slot}} yourself.`, Output: "o"},
			user:       "{{text}}",
			vars:       map[string]string{"text": "t"},
			wantSystem: "Fill {{slot}} yourself.",
			wantPr:     "t\n\no",
		},
		{
			name: "demonstrations are not rendered again",
			p: store.Prompt{System: "Translate {{text}}.", Output: "o",
				Examples: []store.Demo{{Input: "Say {{text}}", Output: "Dis {{text}}"}}},
			user:       "{{text}}",
			vars:       map[string]string{"text": "hi"},
			wantSystem: "Translate hi.\n\nExamples:\nInput: Say {{text}}\nOutput: Dis {{text}}\n",
			wantPr:     "hi\n\no",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _, err := pipeline.PrimaryRequest(&tt.p, tt.user, m, tt.vars)
			if err != nil {
				t.Fatal(err)
			}
			if req.System != tt.wantSystem {
				t.Errorf("system = %q, want %q", req.System, tt.wantSystem)
			}
			if req.Prompt != tt.wantPr {
				t.Errorf("user content = %q, want %q", req.Prompt, tt.wantPr)
			}
		})
	}
}

func TestPrimaryRequestMissingVariable(t *testing.T) {
	p := &store.Prompt{ID: "p1", System: "s", Output: "Use {{tone}}."}
	_, _, err := pipeline.PrimaryRequest(p, "{{text}}", config.Defaults().Primary, map[string]string{"text": "t"})
	var me *template.MissingError
	if !errors.As(err, &me) || me.Name != "tone" {
		t.Fatalf("error = %v, want a MissingError for tone", err)
	}
}
