package config

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/promptml/promptml/shared/llm"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// The catalog loads, is dated, and every entry is complete enough to act on.
func TestModelCatalog(t *testing.T) {
	c := Models()
	if c.AsOf.IsZero() || len(c.Models) == 0 {
		t.Fatalf("catalog as of %s with %d models", c.AsOf, len(c.Models))
	}
	for _, k := range []string{"lifecycle", "prices", "temperature"} {
		if !strings.Contains(c.Sources[k], "https://") {
			t.Errorf("source %q has no URL: %q", k, c.Sources[k])
		}
	}
	seen := map[string]bool{}
	for _, m := range c.Models {
		if seen[m.Name] {
			t.Errorf("%s listed twice", m.Name)
		}
		seen[m.Name] = true
		if m.Provider != "vertex" || m.Released.IsZero() {
			t.Errorf("%s: provider %q released %s", m.Name, m.Provider, m.Released)
		}
		switch m.Stage {
		case "GA", "preview", "retired":
		default:
			t.Errorf("%s: stage %q", m.Name, m.Stage)
		}
		if m.Stage == "retired" && m.Retires.IsZero() {
			t.Errorf("%s is retired without a date", m.Name)
		}
		if m.DefaultThinking != "" && !contains(m.ThinkingLevels, m.DefaultThinking) {
			t.Errorf("%s: default thinking %q not among %v", m.Name, m.DefaultThinking, m.ThinkingLevels)
		}
		for _, l := range m.ThinkingLevels {
			if !contains(thinkingLevels, l) {
				t.Errorf("%s: thinking level %q is not one a config accepts", m.Name, l)
			}
		}
		for i, p := range m.Prices {
			if p.InputPerMTok < 0 || p.OutputPerMTok < 0 {
				t.Errorf("%s: price %d = %+v", m.Name, i, p)
			}
			if i > 0 && (m.Prices[i-1].Until.IsZero() || p.From.IsZero() || !p.From.After(m.Prices[i-1].Until.Time)) {
				t.Errorf("%s: price periods %d and %d overlap or leave a gap unbounded", m.Name, i-1, i)
			}
		}
	}
}

func TestCatalogUsable(t *testing.T) {
	c := Models()
	at := day("2026-12-04")
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"gemini-2.5-flash", false}, // retired in October 2026
		{"gemini-2.5-pro", false},
		{"gemini-3.8-flash", true},
		{"gemini-3.1-flash-lite", true},
		{"text-embedding-005", true}, // no retirement date known
	} {
		m, ok := c.Lookup(tt.name)
		if !ok {
			t.Fatalf("%s not in the catalog", tt.name)
		}
		if err := m.Usable(at); (err == nil) != tt.ok {
			t.Errorf("%s.Usable(%s) = %v, want ok=%v", tt.name, at.Format(time.DateOnly), err, tt.ok)
		}
	}
	// New access is blocked a month before retirement.
	m, _ := c.Lookup("gemini-3.1-flash-lite") // retires 2027-05-07
	if err := m.Usable(day("2027-04-20")); err == nil || !strings.Contains(err.Error(), "blocked") {
		t.Errorf("three weeks before retirement: %v, want blocked", err)
	}
	if err := m.Usable(day("2027-05-07")); err == nil || !strings.Contains(err.Error(), "retired") {
		t.Errorf("on the retirement day: %v, want retired", err)
	}
}

func TestCatalogPricePeriods(t *testing.T) {
	m, ok := Models().Lookup("gemini-3.8-flash")
	if !ok {
		t.Fatal("gemini-3.8-flash not in the catalog")
	}
	for _, tt := range []struct {
		day      string
		in, out  float64
		hasPrice bool
	}{
		{"2026-12-04", 0.75, 3.75, true},
		{"2026-12-31", 0.75, 3.75, true},
		{"2027-01-01", 1.50, 7.50, true},
		{"2030-06-01", 1.50, 7.50, true},
	} {
		p, ok := m.PriceAt(day(tt.day))
		if ok != tt.hasPrice || p.InputPerMTok != tt.in || p.OutputPerMTok != tt.out {
			t.Errorf("price on %s = %+v (%v), want %v / %v", tt.day, p, ok, tt.in, tt.out)
		}
	}
	prices := Models().PricesAt(day("2026-12-04"))
	if _, ok := prices["gemini-2.5-flash"]; ok {
		t.Error("the default price table prices a retired model")
	}
	if _, ok := prices["gemini-4-argon"]; ok {
		t.Error("gemini-4-argon has no recorded price but got one")
	}
}

// Thinking and cached input tokens are priced on their own when the table
// says so, and otherwise as output and input.
func TestPriceCostSplitsThinkingAndCached(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	u := llm.Usage{InputTokens: 1_000_000, CachedInputTokens: 400_000, OutputTokens: 500_000, ThinkingTokens: 200_000}
	for _, tt := range []struct {
		name  string
		price llm.Price
		want  float64
	}{
		{"as input and output", llm.Price{InputPerMTok: 1, OutputPerMTok: 4}, 1*1 + 0.5*4},
		{"own prices", llm.Price{InputPerMTok: 1, OutputPerMTok: 4, CachedInputPerMTok: f(0.1), ThinkingPerMTok: f(8)},
			0.6*1 + 0.4*0.1 + 0.3*4 + 0.2*8},
	} {
		if got := tt.price.Cost(u); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: cost %v, want %v", tt.name, got, tt.want)
		}
	}
	// Counts the provider reported inconsistently never go negative.
	if got := (llm.Price{InputPerMTok: 1, OutputPerMTok: 1}).Cost(llm.Usage{InputTokens: 10, CachedInputTokens: 50}); got != 10/1e6 {
		t.Errorf("cached > input: cost %v", got)
	}
}

func TestThinkingConfig(t *testing.T) {
	for _, tt := range []struct {
		name, data, path string
	}{
		{"unknown level", "primary: {provider: vertex, name: gemini-3.8-flash, thinking_level: max}\n", "primary.thinking_level"},
		{"level the model lacks", "primary: {provider: vertex, name: gemini-3.8-flash, thinking_level: minimal}\n", "primary.thinking_level"},
		{"both", "primary: {provider: vertex, name: x, thinking_level: low, thinking_budget: 100}\n", "primary.thinking_budget"},
		{"budget below -1", "primary: {provider: vertex, name: x, thinking_budget: -2}\n", "primary.thinking_budget"},
		{"budget as text", "primary: {provider: vertex, name: x, thinking_budget: lots}\n", "primary.thinking_budget"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(Layer{Source: "request", Data: []byte(tt.data)})
			if err == nil || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("Load(%q) = %v, want an error at %s", tt.data, err, tt.path)
			}
		})
	}
	cfg, err := Load(Layer{Data: []byte("primary: {provider: vertex, name: gemini-3.1-flash-lite, thinking_level: minimal}\n" +
		"optimizer: {model: {provider: vertex, name: x, thinking_budget: 2048}}\n")})
	if err != nil {
		t.Fatal(err)
	}
	if th := cfg.Primary.Thinking(); th == nil || th.Level != "minimal" || th.Budget != nil {
		t.Errorf("primary thinking %+v", th)
	}
	if th := cfg.Optimizer.Model.Thinking(); th == nil || th.Budget == nil || *th.Budget != 2048 {
		t.Errorf("optimizer thinking %+v", th)
	}
	if th := Defaults().Primary.Thinking(); th != nil {
		t.Errorf("default (sim) primary thinking %+v, want none", th)
	}
}
