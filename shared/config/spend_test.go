package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/llm"
)

func TestSpendDefaults(t *testing.T) {
	d := Defaults()
	if d.Cache != llm.CacheReadWrite || d.Budget.Set() {
		t.Errorf("cache %q budget %+v, want readwrite and no limit", d.Cache, d.Budget)
	}
	// The Gemini 2.x models this listed were retired in 2026 (issue 16):
	// the default table now holds the current models of models.yaml.
	for _, m := range []string{"gemini-3.8-flash", "gemini-3.5-flash", "gemini-3.5-flash-lite", "gemini-3.1-flash-lite"} {
		if p := d.Prices[m]; p.InputPerMTok <= 0 || p.OutputPerMTok <= p.InputPerMTok {
			t.Errorf("default price of %s = %+v", m, p)
		}
	}
}

func TestSpendLoad(t *testing.T) {
	cfg, err := Load(Layer{Source: "request", Data: []byte(`
cache: read
budget: {max_usd: 2.5, max_calls: 100}
primary: {provider: openai, name: llama3, base_url: "http://127.0.0.1:11434/v1", requests_per_minute: 60}
prices: {llama3: {input_per_mtok: 0, output_per_mtok: 0}}
`)})
	if err != nil {
		t.Fatal(err)
	}
	// api_key_env is no longer accepted (issue 16: it let a run send any
	// environment variable to any host); the key is the deployment's.
	want := Model{Provider: "openai", Name: "llama3", BaseURL: "http://127.0.0.1:11434/v1", RequestsPerMinute: 60}
	if d := cmp.Diff(want, cfg.Primary); d != "" {
		t.Errorf("primary (-want +got):\n%s", d)
	}
	if cfg.Cache != "read" || cfg.Budget != (Budget{MaxUSD: 2.5, MaxCalls: 100}) || cfg.Primary.Key() != "openai/llama3" {
		t.Errorf("cache %q budget %+v key %q", cfg.Cache, cfg.Budget, cfg.Primary.Key())
	}
	if got := cfg.Primary.Limits(); got != (llm.Limits{RequestsPerMinute: 60}) {
		t.Errorf("limits %+v", got)
	}
	m, err := cfg.ToMap()
	if err != nil {
		t.Fatal(err)
	}
	back, err := FromMap(m)
	if err != nil || !cmp.Equal(cfg, back) {
		t.Errorf("round trip differs: %v\n%s", err, cmp.Diff(cfg, back))
	}
}

func TestSpendErrors(t *testing.T) {
	for _, tt := range []struct {
		name, data, path, reason string
	}{
		{"cache mode", "cache: sometimes\n", "cache", "off, read, readwrite"},
		{"negative budget", "budget: {max_calls: -1}\n", "budget.max_calls", ">= 0"},
		{"negative usd", "budget: {max_usd: -1}\n", "budget.max_usd", ">= 0"},
		{"usd budget without a price", "budget: {max_usd: 1}\nprimary: {provider: vertex, name: gemini-9}\n", "budget.max_usd", "gemini-9"},
		{"negative price", "prices: {m: {input_per_mtok: -1}}\n", "prices.m.input_per_mtok", ">= 0"},
		{"unknown price key", "prices: {m: {input: 1}}\n", "(document)", "input"},
		{"openai without base_url", "primary: {provider: openai, name: x}\n", "primary.base_url", "required"},
		{"openai base_url not http", "primary: {provider: openai, name: x, base_url: 'ftp://h'}\n", "primary.base_url", "http"},
		// Was "api_key_env not a name": any api_key_env is refused now (issue 16).
		{"api_key_env refused", "primary: {provider: openai, name: x, base_url: 'http://h', api_key_env: OPENAI_KEY}\n", "primary.api_key_env", "not accepted"},
		{"base_url on vertex", "primary: {provider: vertex, name: x, base_url: 'http://h'}\n", "primary.base_url", "openai"},
		{"negative rate", "optimizer: {model: {tokens_per_minute: -5}}\n", "optimizer.model.tokens_per_minute", ">= 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(Layer{Source: "request", Data: []byte(tt.data)})
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Load(%q) = %v, want a *FieldError", tt.data, err)
			}
			if fe.Path != tt.path || !strings.Contains(fe.Reason, tt.reason) {
				t.Errorf("Load(%q) = %s: %s; want %s mentioning %q", tt.data, fe.Path, fe.Reason, tt.path, tt.reason)
			}
		})
	}
}
