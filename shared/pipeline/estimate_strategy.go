package pipeline

import (
	"github.com/promptml/promptml/prompts"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/optimize"
)

// demoOverhead is the tokens of one demonstration's "Input: " and
// "Output: " labels and line breaks (PrimaryRequest), and of a pool entry's
// id and JSON keys in the optimizer's data block.
const demoOverhead = 8

// strategyEstimate is what the optimizer strategy adds to the estimate:
// the meta-prompt's tokens (for auto the longest of the three, as any may
// be picked), the fewshot pool in each optimizer call, and the
// demonstrations a fewshot candidate carries into every scored call.
type strategyEstimate struct {
	metaTokens int
	// poolTokens are added to each optimizer call's input.
	poolTokens int
	// demoTokens are added to a candidate prompt's tokens.
	demoTokens int
}

func estimateStrategy(cfg config.Run, train SplitStats) strategyEstimate {
	var se strategyEstimate
	if cfg.Optimizer.MetaPrompt != "" {
		se.metaTokens = llm.EstimateTokens(cfg.Optimizer.MetaPrompt)
	} else {
		names := []string{cfg.Optimizer.Strategy}
		if cfg.Optimizer.Strategy == optimize.StrategyAuto {
			names = optimize.Strategies
		}
		for _, s := range names {
			if m, err := prompts.Optimizer(s); err == nil {
				se.metaTokens = max(se.metaTokens, llm.EstimateTokens(m))
			}
		}
	}
	if cfg.Optimizer.Strategy != optimize.StrategyFewShot && cfg.Optimizer.Strategy != optimize.StrategyAuto {
		return se
	}
	perDemo := 0
	if train.Examples > 0 {
		perDemo = (train.InputTokens+train.ExpectedTokens)/train.Examples + demoOverhead
	}
	se.poolTokens = min(cfg.Optimizer.FewShot.Pool, train.Examples) * perDemo
	se.demoTokens = min(cfg.Optimizer.FewShot.MaxDemos, train.Examples) * perDemo
	return se
}
