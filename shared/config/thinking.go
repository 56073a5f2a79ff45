package config

import (
	"strings"

	"github.com/promptml/promptml/shared/llm/provider"
)

// thinkingLevels are the thinking_level values a model config accepts
// (genai's ThinkingLevel, lower-cased; OpenAI's reasoning_effort).
var thinkingLevels = []string{"minimal", "low", "medium", "high"}

// validateThinking checks the thinking control of a model config.
func (m Model) validateThinking(path string, bad func(path, format string, args ...any)) {
	if m.ThinkingLevel != "" && !contains(thinkingLevels, m.ThinkingLevel) {
		bad(path+".thinking_level", "must be one of %s, got %q", strings.Join(thinkingLevels, ", "), m.ThinkingLevel)
	}
	if m.ThinkingBudget != nil {
		if *m.ThinkingBudget < -1 {
			bad(path+".thinking_budget", "must be -1 (dynamic), 0 (off) or a number of tokens, got %d", *m.ThinkingBudget)
		}
		if m.ThinkingLevel != "" {
			bad(path+".thinking_budget", "cannot be set with thinking_level: pick one (Gemini 3 and later take thinking_level)")
		}
		if p, _ := provider.Lookup(m.Provider); p.Endpoint {
			// OpenAI-compatible endpoints take a reasoning effort only.
			bad(path+".thinking_budget", "is not sent by the %s provider; use thinking_level (reasoning_effort)", m.Provider)
		}
	}
	if p, _ := provider.Lookup(m.Provider); p.Catalog {
		if cm, ok := Models().Lookup(m.Name); ok && m.ThinkingLevel != "" && len(cm.ThinkingLevels) > 0 && !contains(cm.ThinkingLevels, m.ThinkingLevel) {
			bad(path+".thinking_level", "%s accepts %s (models.yaml, as of %s), got %q",
				m.Name, strings.Join(cm.ThinkingLevels, ", "), Models().AsOf, m.ThinkingLevel)
		}
	}
}
