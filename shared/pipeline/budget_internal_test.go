package pipeline

import (
	"strings"
	"testing"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/store"
)

func TestOver(t *testing.T) {
	b := config.Budget{MaxUSD: 1, MaxCalls: 100, MaxTokens: 1000}
	for _, tc := range []struct {
		name string
		s    spend
		want string
	}{
		{"under every limit", spend{calls: 100, tokens: 1000, usd: 1}, ""},
		{"calls", spend{calls: 101}, "max_calls 100"},
		{"tokens", spend{tokens: 1001}, "max_tokens 1000"},
		{"usd", spend{usd: 1.01}, "max_usd $1.0000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := over(b, tc.s)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("over = %q, want %q", got, tc.want)
			}
		})
	}
	if got := over(config.Budget{}, spend{calls: 1e9, tokens: 1e9, usd: 1e9}); got != "" {
		t.Errorf("no budget, yet %q", got)
	}
}

func TestSpendOf(t *testing.T) {
	s := spendOf(store.Usage{Calls: 3, InputTokens: 10, OutputTokens: 5, CacheHits: 7, CostUSD: 0.5})
	if s != (spend{calls: 3, tokens: 15, usd: 0.5}) {
		t.Errorf("spendOf = %+v: cache hits are free", s)
	}
	if got := (spend{calls: 3, tokens: 10, usd: 1}).times(0.5); got != (spend{calls: 2, tokens: 5, usd: 0.5}) {
		t.Errorf("times rounds calls and tokens up: %+v", got)
	}
}

func TestBaselineOverBudget(t *testing.T) {
	cfg := config.Defaults()
	splits := map[string]SplitStats{"train": {Examples: 60, InputTokens: 600, ExpectedTokens: 300}, "val": {Examples: 20, InputTokens: 200, ExpectedTokens: 100}}
	cfg.Budget = config.Budget{MaxCalls: 80}
	if why := baselineOverBudget(cfg, splits, config.Model{}); why != "" {
		t.Errorf("80 calls fit a budget of 80: %q", why)
	}
	cfg.Budget = config.Budget{MaxCalls: 79}
	if why := baselineOverBudget(cfg, splits, config.Model{}); !strings.Contains(why, "80 calls > budget.max_calls 79") {
		t.Errorf("why = %q", why)
	}
}
