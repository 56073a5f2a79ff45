package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/eval"
)

func TestDefaultsValidate(t *testing.T) {
	d := Defaults()
	if err := d.Validate(); err != nil {
		t.Fatalf("Defaults().Validate() = %v, want nil", err)
	}
	// Load with no layer (or only empty ones) is the defaults.
	for _, layers := range [][]Layer{nil, {{Source: "sidecar"}}, {{Source: "request", Data: []byte("  \n\t")}}} {
		got, err := Load(layers...)
		if err != nil {
			t.Fatalf("Load(%v) = %v", layers, err)
		}
		if diff := cmp.Diff(d, got); diff != "" {
			t.Errorf("Load(%v) differs from Defaults() (-want +got):\n%s", layers, diff)
		}
	}
}

// Defaults returns a fresh value: a caller mutating it does not change the
// next call's result.
func TestDefaultsIndependent(t *testing.T) {
	a := Defaults()
	a.Metrics[0].Name = "changed"
	a.Epochs = 99
	b := Defaults()
	if b.Metrics[0].Name != "exact_match" || b.Epochs != 5 {
		t.Errorf("Defaults() shares state with an earlier result: %+v", b)
	}
}

func TestLoadLayers(t *testing.T) {
	tests := []struct {
		name   string
		layers []Layer
		want   func(r *Run)
	}{
		{
			name:   "sidecar overrides defaults",
			layers: []Layer{{Source: "data.yaml", Data: []byte("epochs: 3\nbatch_size: 7\n")}},
			want:   func(r *Run) { r.Epochs, r.BatchSize = 3, 7 },
		},
		{
			name:   "user template",
			layers: []Layer{{Source: "data.yaml", Data: []byte("prompt:\n  user: \"Translate to French: {{text}}\"\n")}},
			want:   func(r *Run) { r.Prompt.User = "Translate to French: {{text}}" },
		},
		{
			name: "request overrides sidecar",
			layers: []Layer{
				{Source: "data.yaml", Data: []byte("epochs: 3\nbatch_size: 7\n")},
				{Source: "request", Data: []byte("epochs: 1\n")},
			},
			want: func(r *Run) { r.Epochs, r.BatchSize = 1, 7 },
		},
		{
			name:   "nested key overrides alone",
			layers: []Layer{{Source: "data.yaml", Data: []byte("split:\n  seed: 7\n")}},
			want:   func(r *Run) { r.Split.Seed = 7 },
		},
		{
			name: "nested keys of two layers combine",
			layers: []Layer{
				{Source: "data.yaml", Data: []byte("split: {train: 0.5, val: 0.3, test: 0.2}\noptimizer: {model: {temperature: 1.2}}\n")},
				{Source: "request", Data: []byte("split: {seed: 9}\noptimizer: {model: {name: other}}\n")},
			},
			want: func(r *Run) {
				r.Split = Split{Train: 0.5, Val: 0.3, Test: 0.2, Seed: 9}
				r.Optimizer.Model.Temperature = 1.2
				r.Optimizer.Model.Name = "other"
			},
		},
		{
			name: "metrics list replaced whole",
			layers: []Layer{
				{Source: "data.yaml", Data: []byte("metrics:\n  - name: token_f1\n    weight: 2\n  - name: exact_match\n")},
				{Source: "request", Data: []byte("metrics:\n  - name: rouge_l\n    options: {threshold: 0.5}\n")},
			},
			want: func(r *Run) {
				r.Metrics = []eval.Spec{{Name: "rouge_l", Options: map[string]any{"threshold": 0.5}}}
			},
		},
		{
			name: "longer metrics list replaces shorter",
			layers: []Layer{
				{Source: "request", Data: []byte("metrics:\n  - name: token_f1\n    weight: 2\n  - name: exact_match\n    weight: 1\n")},
			},
			want: func(r *Run) {
				r.Metrics = []eval.Spec{{Name: "token_f1", Weight: 2}, {Name: "exact_match", Weight: 1}}
			},
		},
		{
			name:   "JSON layer",
			layers: []Layer{{Source: "request", Data: []byte(`{"epochs": 2, "split": {"seed": 9}, "primary": {"temperature": 0.5}, "metrics": [{"name": "token_f1"}]}`)}},
			want: func(r *Run) {
				r.Epochs, r.Split.Seed, r.Primary.Temperature = 2, 9, 0.5
				r.Metrics = []eval.Spec{{Name: "token_f1"}}
			},
		},
		{
			name: "YAML sidecar then JSON request",
			layers: []Layer{
				{Source: "data.yaml", Data: []byte("epochs: 3\nprompt:\n  system: Be terse.\n")},
				{Source: "request", Data: []byte(`{"prompt": {"output": "One word."}}`)},
			},
			want: func(r *Run) { r.Epochs, r.Prompt.System, r.Prompt.Output = 3, "Be terse.", "One word." },
		},
		{
			name:   "null value keeps the earlier one",
			layers: []Layer{{Source: "data.yaml", Data: []byte("epochs:\nsplit: null\n")}},
			want:   func(r *Run) {},
		},
		{
			name:   "comments only",
			layers: []Layer{{Source: "data.yaml", Data: []byte("# nothing to override\n")}},
			want:   func(r *Run) {},
		},
		{
			name:   "zero epochs is allowed",
			layers: []Layer{{Source: "request", Data: []byte("epochs: 0\n")}},
			want:   func(r *Run) { r.Epochs = 0 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := Defaults()
			tt.want(&want)
			got, err := Load(tt.layers...)
			if err != nil {
				t.Fatalf("Load = %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Load (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		// path is the FieldError's Path; reason a part of its Reason.
		path, reason string
	}{
		{"unknown top-level key", "epoch: 3\n", "epoch", "unknown key"},
		{"unknown key lists known ones", "foo: 1\n", "foo", "epochs"},
		{"unknown nested key", "split:\n  vall: 0.2\n", "split.vall", "unknown key"},
		{"unknown nested key lists siblings", "split:\n  vall: 0.2\n", "split.vall", "val"},
		{"unknown deep key", "optimizer:\n  model:\n    temp: 1\n", "optimizer.model.temp", "unknown key"},
		{"unknown key in a list element", "metrics:\n  - name: exact_match\n    wieght: 2\n", "metrics[0].wieght", "unknown key"},
		{"string for a number", `epochs: "five"`, "epochs", "whole number"},
		{"fraction for an integer", "epochs: 1.5\n", "epochs", "whole number"},
		{"string for a float", "split: {train: lots}\n", "split.train", "number"},
		{"scalar for a mapping", "split: 3\n", "split", "mapping"},
		{"mapping for a list", "metrics: {}\n", "metrics", "list"},
		{"mapping for a string", "prompt: {system: {a: b}}\n", "prompt.system", "string"},
		{"list for a document", "- a\n- b\n", "(document)", "mapping"},
		{"malformed YAML", "epochs: [1\n", "(document)", "not valid YAML"},
		{"tab indentation", "split:\n\ttrain: 0.5\n", "(document)", ""},
		{"split ratios not summing to 1", "split: {train: 0.5, val: 0.3, test: 0.3}\n", "split", "must be 1"},
		{"split ratio out of range", "split: {train: 1.2, val: -0.1, test: -0.1}\n", "split.train", "between 0 and 1"},
		{"no validation split", "split: {train: 0.8, val: 0, test: 0.2}\n", "split.val", "> 0"},
		{"negative epochs", "epochs: -1\n", "epochs", "between 0 and 100"},
		{"batch_size 0", "batch_size: 0\n", "batch_size", "between 1 and 1000"},
		{"candidates 0", "candidates: 0\n", "candidates", "between 1 and 16"},
		{"temperature 3", "primary: {temperature: 3}\n", "primary.temperature", "between 0 and 2"},
		{"optimizer temperature negative", "optimizer: {model: {temperature: -0.1}}\n", "optimizer.model.temperature", "between 0 and 2"},
		{"unknown provider", "primary: {provider: openai2}\n", "primary.provider", `"openai2"`},
		{"unknown optimizer provider", "optimizer: {model: {provider: x}}\n", "optimizer.model.provider", "sim, vertex"},
		{"empty model name", "primary: {name: ''}\n", "primary.name", "required"},
		{"unknown strategy", "optimizer: {strategy: evolve}\n", "optimizer.strategy", "rewrite"},
		{"early_stopping.metric bogus", "early_stopping: {metric: bogus}\n", "early_stopping.metric", "mean, pass_rate"},
		{"negative patience", "early_stopping: {patience: -1}\n", "early_stopping.patience", ">= 0"},
		{"meta_prompt without {{DATA}}", "optimizer: {meta_prompt: 'Improve the prompt.'}\n", "optimizer.meta_prompt", "{{DATA}}"},
		{"empty prompts", "prompt: {system: '', output: ' '}\n", "prompt", "both be empty"},
		{"empty user template", "prompt: {user: ' '}\n", "prompt.user", "{{user_input}}"},
		{"gate min_delta 1", "gate: {min_delta: 1}\n", "gate.min_delta", "[0,1)"},
		{"unknown gate test", "gate: {test: ttest}\n", "gate.test", "mcnemar, bootstrap, none"},
		{"gate alpha 0", "gate: {alpha: 0}\n", "gate.alpha", "(0,1]"},
		{"gate samples 10", "gate: {samples: 10}\n", "gate.samples", "between 100"},
		{"meta_prompt with auto", "optimizer: {strategy: auto, meta_prompt: 'x {{DATA}}'}\n", "optimizer.meta_prompt", "auto"},
		{"history negative", "optimizer: {history: -1}\n", "optimizer.history", "between 0 and 50"},
		{"max_tries 0", "optimizer: {max_tries: 0}\n", "optimizer.max_tries", "between 1 and 10"},
		{"pool below max_demos", "optimizer: {fewshot: {max_demos: 6, pool: 4}}\n", "optimizer.fewshot.pool", "max_demos"},
		{"max_chars below min_chars", "optimizer: {guards: {min_chars: 10, max_chars: 5}}\n", "optimizer.guards.max_chars", "> min_chars"},
		{"leakage ngram 0", "optimizer: {guards: {leakage: {ngram: 0}}}\n", "optimizer.guards.leakage.ngram", "between 1 and 10"},
		{"leakage overlap 0", "optimizer: {guards: {leakage: {max_overlap: 0}}}\n", "optimizer.guards.leakage.max_overlap", "(0,1]"},
		{"concurrency 0", "limits: {concurrency: 0}\n", "limits.concurrency", "between 1 and 256"},
		{"no metrics", "metrics: []\n", "metrics", "at least one"},
		{"unknown metric name", "metrics:\n  - name: exact_match\n  - name: nope\n", "metrics[1].name", `unknown metric "nope"`},
		{"metric with a bad option", "metrics:\n  - name: exact_match\n    options: {bogus: 1}\n", "metrics[0].options.bogus", "unknown option"},
		{"metric threshold out of range", "metrics:\n  - name: token_f1\n    options: {threshold: 2}\n", "metrics[0].options.threshold", "[0,1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(Layer{Source: "request", Data: []byte(tt.data)})
			if err == nil {
				t.Fatalf("Load(%q) = nil error, want one at %s", tt.data, tt.path)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Load(%q) = %v (%T), want a *FieldError", tt.data, err, err)
			}
			if fe.Path != tt.path {
				t.Errorf("Load(%q): Path = %q, want %q (error %v)", tt.data, fe.Path, tt.path, err)
			}
			if !strings.Contains(fe.Reason, tt.reason) {
				t.Errorf("Load(%q): Reason = %q, want it to mention %q", tt.data, fe.Reason, tt.reason)
			}
			if !strings.Contains(err.Error(), fe.Path) {
				t.Errorf("Load(%q): message %q does not name the path %q", tt.data, err, fe.Path)
			}
		})
	}
}

// A layer's own errors (parse, unknown key, wrong kind) name the layer.
func TestLoadErrorNamesLayer(t *testing.T) {
	tests := []struct {
		name   string
		layers []Layer
		source string
	}{
		{"sidecar unknown key", []Layer{{Source: "data.yaml", Data: []byte("epoch: 1\n")}, {Source: "request", Data: []byte("epochs: 2\n")}}, "data.yaml"},
		{"request unknown key", []Layer{{Source: "data.yaml", Data: []byte("epochs: 1\n")}, {Source: "request", Data: []byte("split: {vall: 1}\n")}}, "request"},
		{"request wrong kind", []Layer{{Source: "data.yaml", Data: []byte("epochs: 1\n")}, {Source: "request", Data: []byte(`epochs: "five"`)}}, "request"},
		{"sidecar malformed", []Layer{{Source: "data.yaml", Data: []byte("epochs: [1\n")}}, "data.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.layers...)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Load = %v, want a *FieldError", err)
			}
			if fe.Source != tt.source {
				t.Errorf("Source = %q, want %q", fe.Source, tt.source)
			}
			if !strings.HasPrefix(err.Error(), tt.source+": ") {
				t.Errorf("message %q does not start with the layer %q", err, tt.source)
			}
		})
	}
}

func TestFieldErrorMessage(t *testing.T) {
	tests := []struct {
		err  FieldError
		want string
	}{
		{FieldError{Source: "data.yaml", Path: "split.val", Reason: "bad"}, "data.yaml: split.val: bad"},
		{FieldError{Path: "epochs", Reason: "bad"}, "epochs: bad"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// Validate reports every bad field, not only the first.
func TestValidateReportsAll(t *testing.T) {
	r := Defaults()
	r.Epochs = -1
	r.BatchSize = 0
	r.Primary.Provider = "x"
	err := r.Validate()
	var paths []string
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var fe *FieldError
		if errors.As(err, &fe) {
			paths = append(paths, fe.Path)
		}
	}
	walk(err)
	if diff := cmp.Diff([]string{"epochs", "batch_size", "primary.provider"}, paths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
}

func TestMapRoundTrip(t *testing.T) {
	rich, err := Load(Layer{Source: "request", Data: []byte(`
prompt: {system: "Translate.", output: "French only."}
split: {train: 0.7, val: 0.2, test: 0.1, seed: -3}
epochs: 7
candidates: 3
early_stopping: {patience: 0, metric: pass_rate, min_delta: 0.01}
metrics:
  - name: token_f1
    weight: 2
    options: {threshold: 0.75}
  - name: exact_match
    options: {trim: false}
gate: {min_delta: 0.02}
optimizer:
  meta_prompt: "Improve: {{DATA}}"
  max_failures: 4
  model: {provider: vertex, name: gemini-2.5-pro, temperature: 1, max_output_tokens: 2048}
primary: {provider: vertex, name: gemini-2.5-flash, temperature: 0.2}
limits: {max_bytes: 1000, max_rows: 10, max_cell_bytes: 100, concurrency: 2}
`)})
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]Run{"defaults": Defaults(), "rich": rich} {
		t.Run(name, func(t *testing.T) {
			m, err := r.ToMap()
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := m["split"].(map[string]any); !ok {
				t.Errorf("ToMap()[split] = %T, want a JSON object", m["split"])
			}
			back, err := FromMap(m)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(r, back); diff != "" {
				t.Errorf("FromMap(ToMap()) differs (-orig +back):\n%s", diff)
			}
			if err := back.Validate(); err != nil {
				t.Errorf("round-tripped config no longer validates: %v", err)
			}
		})
	}
}

func TestFromMapWrongType(t *testing.T) {
	if _, err := FromMap(map[string]any{"epochs": "five"}); err == nil {
		t.Error("FromMap with a string epochs = nil error, want one")
	}
}

// TestExponentNumbers: JSON clients (the CLI's --set, Go's encoder) write
// small and large floats with an exponent and no decimal point, which the
// YAML decoder alone would read as text; a YAML layer gets a hint instead.
func TestExponentNumbers(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    float64
		wantErr string
	}{
		{name: "json small", data: `{"budget":{"max_usd":1e-07}}`, want: 1e-7},
		{name: "json upper case exponent", data: `{"budget":{"max_usd":1E+3}}`, want: 1000},
		{name: "json plain", data: `{"budget":{"max_usd":0.5},"prompt":{"system":"Be exact: 1e-7 is text here."}}`, want: 0.5},
		{name: "yaml with point", data: "budget:\n  max_usd: 2.5e-3\n", want: 2.5e-3},
		{name: "yaml without point", data: "budget:\n  max_usd: 1e-7\n", wantErr: "write 0.0000001 or 1.0e-7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(Layer{Source: "request", Data: []byte(tt.data)})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Budget.MaxUSD != tt.want {
				t.Errorf("budget.max_usd = %v, want %v", cfg.Budget.MaxUSD, tt.want)
			}
		})
	}
}

// TestUserTemplateDefault: a run stored before prompt.user existed decodes
// with an empty User, which means the default user turn.
func TestUserTemplateDefault(t *testing.T) {
	tests := []struct {
		name string
		p    Prompt
		want string
	}{
		{"stored before templates", Prompt{System: "s", Output: "o"}, "{{user_input}}"},
		{"defaults", Defaults().Prompt, "{{user_input}}"},
		{"set", Prompt{User: "Q: {{question}}"}, "Q: {{question}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.UserTemplate(); got != tt.want {
				t.Errorf("UserTemplate() = %q, want %q", got, tt.want)
			}
		})
	}
}
