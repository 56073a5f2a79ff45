package config

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzLoad feeds arbitrary YAML and JSON layers (a sidecar, then a request)
// to the config parser. It must never panic; it either rejects the layers
// with a *FieldError that names a path, or returns a config that validates
// and survives the round trip through the run document (ToMap, FromMap).
func FuzzLoad(f *testing.F) {
	seeds := [][2]string{
		{"", ""},
		{"epochs: 3\nbatch_size: 7\n", `{"epochs":1}`},
		{"split: {train: 0.7, val: 0.2, test: 0.1, seed: -3}\n", ""},
		{"metrics:\n  - name: token_f1\n    weight: 2\n    options: {threshold: 0.75}\n", ""},
		{"epochs: [1\n", ""},
		{"nope: 1\n", ""},
		{"budget:\n  max_usd: 1e-7\n", `{"budget":{"max_usd":1e-07}}`},
		{"a: &a [x, x]\nb: &b [*a, *a]\n", ""},
		{"split: {val: .nan}\n", ""},
		{"gate: {min_delta: .inf}\n", ""},
		{"prompt: {system: \"\", output: \"\"}\n", ""},
		{"--- \n...\n---\nepochs: 2\n", ""},
		{"\"epochs\": !!str 3\n", ""},
		{"prices: {m: {input_per_mtok: -1}}\n", ""},
		{"optimizer: {strategy: fewshot, fewshot: {max_demos: 0}}\n", "{\"candidates\": 99999999999999999999}"},
		{"limits: {max_bytes: 1, max_rows: 1, max_cell_bytes: 1}\n", ""},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, sidecar, request []byte) {
		cfg, err := Load(Layer{Source: "data.yaml", Data: sidecar}, Layer{Source: "request", Data: request})
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Load error %v (%T) is not a *FieldError", err, err)
			}
			if fe.Path == "" || fe.Reason == "" {
				t.Fatalf("FieldError without a path or reason: %#v", fe)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Load returned a config that does not validate: %v", err)
		}
		m, err := cfg.ToMap()
		if err != nil {
			t.Fatalf("ToMap of a loaded config: %v", err)
		}
		back, err := FromMap(m)
		if err != nil {
			t.Fatalf("FromMap(ToMap()): %v", err)
		}
		if diff := cmp.Diff(cfg, back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("FromMap(ToMap()) differs (-loaded +back):\n%s", diff)
		}
	})
}
