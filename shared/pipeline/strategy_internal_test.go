package pipeline

import (
	"testing"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/store"
)

func TestResolveStrategy(t *testing.T) {
	ep := func(s string, d store.Decision) *store.Epoch { return &store.Epoch{Strategy: s, Decision: d} }
	acc, rej, fail := store.DecisionAccepted, store.DecisionRejected, store.DecisionOptimizerFailed
	tests := []struct {
		name   string
		fixed  string
		epochs []*store.Epoch
		want   string
	}{
		{"fixed strategy", "edit", []*store.Epoch{ep("edit", rej)}, "edit"},
		{"auto starts with rewrite", "auto", nil, "rewrite"},
		{"auto tries each once", "auto", []*store.Epoch{ep("rewrite", acc)}, "edit"},
		{"then fewshot", "auto", []*store.Epoch{ep("rewrite", acc), ep("edit", rej)}, "fewshot"},
		// rates: rewrite 2/3, edit 1/3, fewshot 2/3 → tie, fewer tries
		// both 1 → earlier in the list.
		{"best rate, ties to the earlier", "auto", []*store.Epoch{ep("rewrite", acc), ep("edit", rej), ep("fewshot", acc)}, "rewrite"},
		// rewrite 2/4 after a rejection, fewshot 2/3.
		{"best rate", "auto", []*store.Epoch{ep("rewrite", acc), ep("edit", rej), ep("fewshot", acc), ep("rewrite", rej)}, "fewshot"},
		// rewrite (1+1)/(2+2) = 0.5 vs edit (1+1)/(2+2) = 0.5 vs
		// fewshot 1/3: tie between rewrite and edit, both tried twice.
		{"optimizer_failed counts as tried", "auto", []*store.Epoch{ep("rewrite", acc), ep("edit", acc), ep("fewshot", fail),
			ep("rewrite", fail), ep("edit", rej)}, "rewrite"},
		{"untagged epochs are ignored", "auto", []*store.Epoch{ep("", acc)}, "rewrite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.Optimizer.Strategy = tt.fixed
			got, why := resolveStrategy(cfg, tt.epochs)
			if got != tt.want {
				t.Errorf("resolveStrategy = %s (%s), want %s", got, why, tt.want)
			}
		})
	}
}
