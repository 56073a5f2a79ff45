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
	got := Usage{1, 2, 3}.Add(Usage{10, 20, 30})
	if got != (Usage{11, 22, 33}) {
		t.Errorf("Add = %+v", got)
	}
}
