package prompts

import (
	"strings"
	"testing"
)

func TestOptimizer(t *testing.T) {
	tests := []struct {
		strategy string
		wantErr  bool
	}{
		{"rewrite", false},
		{"edit", false},
		{"fewshot", false},
		{"nope", true},
	}
	for _, tt := range tests {
		t.Run(tt.strategy, func(t *testing.T) {
			got, err := Optimizer(tt.strategy)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && strings.Count(got, "{{DATA}}") != 1 {
				t.Errorf("meta-prompt must contain {{DATA}} exactly once")
			}
		})
	}
}
