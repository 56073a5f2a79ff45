package eval

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name  string
		specs []Spec
		want  string // substring of the error
	}{
		{"no metrics", nil, "at least one metric"},
		{"unknown name", []Spec{{Name: "exact_match"}, {Name: "nope"}}, `metrics[1].name: unknown metric "nope"`},
		{"empty name", []Spec{{}}, "metrics[0].name: required"},
		{"negative weight", []Spec{{Name: "exact_match", Weight: -1}}, "metrics[0].weight: must be a finite number >= 0"},
		{"unknown option", []Spec{{Name: "exact_match", Options: map[string]any{"bogus": 1}}}, "metrics[0].options.bogus: unknown option"},
		{"bad type", []Spec{{Name: "exact_match", Options: map[string]any{"trim": 3}}}, "metrics[0].options.trim: must be true or false"},
		{"bad normalizer", []Spec{{Name: "exact_match"}, {Name: "normalized_match", Options: map[string]any{"normalizers": []any{"case", "rot13"}}}}, `metrics[1].options.normalizers: unknown normalizer "rot13"`},
		{"threshold out of range", []Spec{{Name: "exact_match", Options: map[string]any{"threshold": 1.5}}}, "metrics[0].options.threshold: must be in [0,1] (metric exact_match)"},
		{"bad regex", []Spec{{Name: "regex", Options: map[string]any{"pattern": "("}}}, "metrics[0].options.pattern: error parsing regexp"},
		{"negative tolerance", []Spec{{Name: "exact_match"}, {Name: "numeric", Options: map[string]any{"abs_tol": -0.1}}}, "metrics[1].options.abs_tol: must be >= 0 (metric numeric)"},
		{"bleu order", []Spec{{Name: "bleu", Options: map[string]any{"max_ngram_order": 0}}}, "metrics[0].options.max_ngram_order: must be in [1,"},
		{"judge without rubric", []Spec{{Name: "llm_judge"}}, "metrics[0].options.rubric: required"},
		{"json_schema without schema", []Spec{{Name: "json_schema"}}, "metrics[0].options.schema: required"},
		{"bad schema", []Spec{{Name: "json_schema", Options: map[string]any{"schema": map[string]any{"type": 7}}}}, "metrics[0].options.schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(tt.specs, Deps{})
			if err == nil {
				t.Fatalf("Build succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestBuildSpecErrorFields(t *testing.T) {
	_, err := Build([]Spec{{Name: "exact_match"}, {Name: "numeric", Options: map[string]any{"rel_tol": "x"}}}, Deps{})
	var se *SpecError
	if !errors.As(err, &se) {
		t.Fatalf("Build error = %v, want a *SpecError", err)
	}
	want := SpecError{Index: 1, Metric: "numeric", Field: "options.rel_tol", Msg: "must be a number, got string"}
	if diff := cmp.Diff(want, *se); diff != "" {
		t.Errorf("SpecError mismatch (-want +got):\n%s", diff)
	}
}

// Every registered metric builds with its defaults and zero Deps (the config
// validator's call), except those with a required option, which build once
// it is given.
func TestBuildEveryMetricWithZeroDeps(t *testing.T) {
	required := map[string]map[string]any{
		"llm_judge":   {"rubric": "Is the answer polite?"},
		"json_schema": {"schema": map[string]any{"type": "object"}},
	}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			m, err := Build([]Spec{{Name: name, Options: required[name]}}, Deps{})
			if err != nil {
				t.Fatalf("Build(%s): %v", name, err)
			}
			if m.Name() != name {
				t.Errorf("Name() = %q, want %q", m.Name(), name)
			}
			if th := Threshold(m); th < 0 || th > 1 {
				t.Errorf("Threshold() = %v, want in [0,1]", th)
			}
		})
	}
}

func TestBuildOptionCoercion(t *testing.T) {
	// YAML decodes integers as uint64/int64, Firestore as int64, JSON as
	// float64; a CLI flag gives a string. All must be accepted.
	for _, v := range []any{uint64(3), int64(3), float64(3), "3", 3} {
		m, err := Build([]Spec{{Name: "bleu", Options: map[string]any{"max_ngram_order": v}}}, Deps{})
		if err != nil {
			t.Errorf("max_ngram_order=%#v: %v", v, err)
			continue
		}
		if got := m.(*bleu).order; got != 3 {
			t.Errorf("max_ngram_order=%#v: order = %d, want 3", v, got)
		}
	}
}

func TestCompositeWeights(t *testing.T) {
	// exact_match fails (0), contains passes (1): the weighted mean is the
	// normalized weight of contains.
	tests := []struct {
		name    string
		wExact  float64
		wContai float64
		want    float64
	}{
		{"equal by default", 0, 0, 0.5},
		{"zero means one", 0, 3, 0.75},
		{"explicit", 1, 4, 0.8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Build([]Spec{{Name: "exact_match", Weight: tt.wExact}, {Name: "contains", Weight: tt.wContai}}, Deps{})
			if err != nil {
				t.Fatal(err)
			}
			if m.Name() != "composite" {
				t.Errorf("Name() = %q, want composite", m.Name())
			}
			s, err := m.Score(t.Context(), "the answer is Paris", "Paris")
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(s.Value-tt.want) > 1e-12 {
				t.Errorf("Score = %v, want %v", s.Value, tt.want)
			}
			if !strings.Contains(s.Explanation, "exact_match=0.000") || !strings.Contains(s.Explanation, "contains=1.000") {
				t.Errorf("Explanation = %q, want each part's value", s.Explanation)
			}
		})
	}
}

func TestCompositeFailsWhenAPartFails(t *testing.T) {
	m, err := Build([]Spec{{Name: "exact_match"}, {Name: "llm_judge", Options: map[string]any{"rubric": "r"}}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Score(t.Context(), "a", "a"); err == nil {
		t.Fatal("Score succeeded with a judge part and no judge, want an error")
	}
}

func TestCompositeThreshold(t *testing.T) {
	m, err := Build([]Spec{
		{Name: "exact_match", Weight: 1},
		{Name: "rouge_l", Weight: 3, Options: map[string]any{"threshold": 0.6}},
	}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Threshold(m), 0.25*1+0.75*0.6; math.Abs(got-want) > 1e-12 {
		t.Errorf("Threshold = %v, want %v", got, want)
	}
}
