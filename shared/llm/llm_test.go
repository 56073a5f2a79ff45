package llm

import (
	"errors"
	"fmt"
	"testing"
)

func TestIsTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"transient", &Error{Kind: Transient, Code: 429}, true},
		{"permanent", &Error{Kind: Permanent, Code: 400}, false},
		{"wrapped permanent", fmt.Errorf("call: %w", &Error{Kind: Permanent}), false},
		{"unclassified", errors.New("boom"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsTransient(tt.err); got != tt.want {
				t.Errorf("IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestUsageAdd(t *testing.T) {
	got := Usage{InputTokens: 1, OutputTokens: 2, TotalTokens: 3, CachedInputTokens: 4, ThinkingTokens: 5}.
		Add(Usage{InputTokens: 10, OutputTokens: 20, TotalTokens: 30, CachedInputTokens: 40, ThinkingTokens: 50})
	if got != (Usage{InputTokens: 11, OutputTokens: 22, TotalTokens: 33, CachedInputTokens: 44, ThinkingTokens: 55}) {
		t.Errorf("Add = %+v", got)
	}
}
