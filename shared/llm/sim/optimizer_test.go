package sim

import (
	"context"
	"errors"
	"testing"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/optimize"
)

// Failures as the pipeline would report them.
var (
	failPreambleQuotes = optimize.Example{Input: "Translate to French: Hello", Expected: "Bonjour",
		Actual: "Sure! Here is the translation:\n\"Bonjour\""}
	failQuotesExplain = optimize.Example{Input: "Translate to French: Thanks", Expected: "Merci",
		Actual: "\"Merci\" This is a common way to express it in French."}
	failPreamble = optimize.Example{Input: "Translate to French: Yes", Expected: "Oui",
		Actual: "Here's the translation: Oui"}
	failCaps = optimize.Example{Input: "Translate to French: Good night", Expected: "Bonne nuit",
		Actual: "Bonne Nuit"}
)

func TestOptimizerBadRequest(t *testing.T) {
	tests := []struct{ name, prompt string }{
		{"no data block", "Improve this prompt: You are a helpful assistant."},
		{"malformed block", optimize.BeginData + "\n{not json\n" + optimize.EndData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Options{}).Generate(context.Background(), &llm.Request{Purpose: "optimizer", Prompt: tt.prompt,
				ResponseSchema: optimize.ProposalSchema("rewrite")})
			var le *llm.Error
			if !errors.As(err, &le) || le.Kind != llm.Permanent || le.Reason != "bad_request" {
				t.Errorf("error = %v, want a permanent bad_request *llm.Error", err)
			}
		})
	}
}
