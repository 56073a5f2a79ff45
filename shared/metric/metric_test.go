package metric

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// withRegistry runs the test against its own registry.
func withRegistry(t *testing.T, checks map[string]OptionCheck) {
	t.Helper()
	mu.Lock()
	saved := registry
	registry = map[string]OptionCheck{}
	mu.Unlock()
	t.Cleanup(func() {
		mu.Lock()
		registry = saved
		mu.Unlock()
	})
	for n, c := range checks {
		Register(n, c)
	}
}

func TestCheck(t *testing.T) {
	withRegistry(t, map[string]OptionCheck{
		"plain": func(Spec) (string, string) { return "", "" },
		"picky": func(s Spec) (string, string) {
			if _, ok := s.Options["level"]; !ok {
				return "options.level", "required"
			}
			return "", ""
		},
	})
	tests := []struct {
		name  string
		specs []Spec
		want  *SpecError // nil: valid
		text  string     // the error's text, when not a *SpecError
	}{
		{"valid", []Spec{{Name: "plain"}, {Name: "picky", Options: map[string]any{"level": 1}, Weight: 2}}, nil, ""},
		{"empty list", nil, nil, "metrics: at least one metric is required"},
		{"no name", []Spec{{}}, &SpecError{Index: 0, Field: "name", Msg: "required"}, ""},
		{"unknown names the known", []Spec{{Name: "plain"}, {Name: "nope"}},
			&SpecError{Index: 1, Metric: "nope", Field: "name", Msg: `unknown metric "nope" (known: picky, plain)`}, ""},
		{"option", []Spec{{Name: "picky"}}, &SpecError{Index: 0, Metric: "picky", Field: "options.level", Msg: "required"}, ""},
		{"negative weight", []Spec{{Name: "plain", Weight: -1}}, &SpecError{Index: 0, Metric: "plain", Field: "weight", Msg: "must be a finite number >= 0"}, ""},
		{"infinite weight", []Spec{{Name: "plain", Weight: math.Inf(1)}}, &SpecError{Index: 0, Metric: "plain", Field: "weight", Msg: "must be a finite number >= 0"}, ""},
		{"options before weight", []Spec{{Name: "picky", Weight: -1}}, &SpecError{Index: 0, Metric: "picky", Field: "options.level", Msg: "required"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.specs)
			var se *SpecError
			switch {
			case tt.want == nil && tt.text == "":
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
			case tt.want == nil:
				if err == nil || err.Error() != tt.text {
					t.Fatalf("Check = %v, want %q", err, tt.text)
				}
			case !errors.As(err, &se):
				t.Fatalf("Check = %v, want a *SpecError", err)
			default:
				if diff := cmp.Diff(*tt.want, *se); diff != "" {
					t.Errorf("SpecError (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// A program that validates configs without linking shared/eval says so
// rather than calling every metric unknown.
func TestCheckWithoutMetrics(t *testing.T) {
	withRegistry(t, nil)
	err := Check([]Spec{{Name: "exact_match"}})
	if err == nil || !strings.Contains(err.Error(), "shared/eval") {
		t.Errorf("Check = %v, want it to say that no metric is linked", err)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	withRegistry(t, map[string]OptionCheck{"plain": func(Spec) (string, string) { return "", "" }})
	defer func() {
		if recover() == nil {
			t.Error("a second Register of one name did not panic")
		}
	}()
	Register("plain", func(Spec) (string, string) { return "", "" })
}
