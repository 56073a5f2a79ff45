package pipeline_test

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/pipeline"
)

func TestEstimateRun(t *testing.T) {
	base := func() config.Run {
		cfg := config.Defaults()
		cfg.Prompt = config.Prompt{System: "abcd", Output: "abcdefgh"} // 1 + 2 tokens
		cfg.Epochs, cfg.Candidates = 2, 2
		cfg.Prices = map[string]llm.Price{"sim-primary": {InputPerMTok: 1, OutputPerMTok: 2}}
		return cfg
	}
	splits := map[string]pipeline.SplitStats{
		"train": {Examples: 10, InputTokens: 50, ExpectedTokens: 20},
		"val":   {Examples: 5, InputTokens: 25, ExpectedTokens: 10},
		"test":  {Examples: 5, InputTokens: 25, ExpectedTokens: 10},
	}
	e := pipeline.EstimateRun(base(), splits, config.Model{})
	var names []string
	calls := 0
	for _, p := range e.Phases {
		names = append(names, p.Name)
		calls += p.Calls
	}
	wantNames := []string{"baseline train", "baseline val",
		"epoch 1 optimizer", "epoch 1 candidates val", "epoch 1 accepted train",
		"epoch 2 optimizer", "epoch 2 candidates val", "epoch 2 accepted train",
		"test initial", "test best"}
	if d := cmp.Diff(wantNames, names); d != "" {
		t.Errorf("phases (-want +got):\n%s", d)
	}
	// 10+5 baseline; per epoch 2 proposals × 3 max_tries optimizer calls
	// + 2×5 val + 10 train; 5+5 test.
	if e.Calls != 77 || calls != e.Calls {
		t.Errorf("calls %d (phases sum %d), want 77", e.Calls, calls)
	}
	// Baseline train: inputs 50 + 10 × 3 prompt tokens; answers 20 + 10 × 20.
	bt := e.Phases[0]
	if bt.InputTokens != 80 || bt.OutputTokens != 220 {
		t.Errorf("baseline train tokens %d/%d, want 80/220", bt.InputTokens, bt.OutputTokens)
	}
	if want := (80*1 + 220*2) / 1e6; math.Abs(bt.CostUSD-want) > 1e-12 {
		t.Errorf("baseline train cost %v, want %v", bt.CostUSD, want)
	}
	if e.Phases[2].CostUSD != 0 {
		t.Errorf("the optimizer has no price, yet costs %v", e.Phases[2].CostUSD)
	}
	sum := 0.0
	for _, p := range e.Phases {
		sum += p.CostUSD
	}
	if math.Abs(sum-e.CostUSD) > 1e-12 || e.CostUSD <= 0 {
		t.Errorf("cost %v, phases sum %v", e.CostUSD, sum)
	}

	t.Run("llm_judge doubles the scored calls", func(t *testing.T) {
		cfg := base()
		cfg.Metrics = []eval.Spec{{Name: "llm_judge"}}
		j := pipeline.EstimateRun(cfg, splits, config.Model{})
		if j.Calls != 77+(77-12) {
			t.Errorf("calls %d, want %d", j.Calls, 77+65)
		}
	})
	t.Run("semantic_similarity embeds answer and ground truth", func(t *testing.T) {
		cfg := base()
		cfg.Metrics = []eval.Spec{{Name: "semantic_similarity"}}
		emb := config.Model{Provider: "vertex", Name: "text-embedding-005"}
		cfg.Prices = map[string]llm.Price{"text-embedding-005": {InputPerMTok: 1e6}}
		for k, v := range base().Prices {
			cfg.Prices[k] = v
		}
		plain := pipeline.EstimateRun(base(), splits, config.Model{})
		s := pipeline.EstimateRun(cfg, splits, emb)
		if s.Calls != 77+2*(77-12) {
			t.Errorf("calls %d, want %d", s.Calls, 77+2*65)
		}
		added := s.InputTokens - plain.InputTokens
		if added <= 0 || s.OutputTokens != plain.OutputTokens || math.Abs(s.CostUSD-plain.CostUSD-float64(added)) > 1e-6 {
			t.Errorf("embeddings add %d input tokens, %d output, $%v; want input only, at a dollar a token",
				added, s.OutputTokens-plain.OutputTokens, s.CostUSD-plain.CostUSD)
		}
	})
	t.Run("max_output_tokens caps the answers", func(t *testing.T) {
		cfg := base()
		cfg.Primary.MaxOutputTokens = 5
		if got := pipeline.EstimateRun(cfg, splits, config.Model{}).Phases[0].OutputTokens; got != 50 {
			t.Errorf("baseline train output %d, want 10 × 5", got)
		}
	})
	t.Run("max_tries bounds the optimizer calls", func(t *testing.T) {
		cfg := base()
		cfg.Optimizer.MaxTries = 1
		if got := pipeline.EstimateRun(cfg, splits, config.Model{}).Calls; got != 69 {
			t.Errorf("calls %d, want 69 with one try per proposal", got)
		}
	})
	t.Run("auto counts the longest meta-prompt", func(t *testing.T) {
		opt := func(strategy string) int {
			cfg := base()
			cfg.Optimizer.Strategy = strategy
			return pipeline.EstimateRun(cfg, splits, config.Model{}).Phases[2].InputTokens
		}
		longest := 0
		for _, s := range []string{"rewrite", "edit", "fewshot"} {
			if s != "fewshot" { // fewshot also carries its pool
				longest = max(longest, opt(s))
			}
		}
		if a := opt("auto"); a <= longest {
			t.Errorf("auto optimizer input %d tokens, want more than rewrite's and edit's (%d): the meta-prompt and the fewshot pool", a, longest)
		}
	})
	t.Run("fewshot demonstrations in every scored call", func(t *testing.T) {
		cfg := base()
		cfg.Optimizer.Strategy = "fewshot"
		cfg.Optimizer.FewShot.MaxDemos = 2
		few := pipeline.EstimateRun(cfg, splits, config.Model{})
		rw := pipeline.EstimateRun(base(), splits, config.Model{})
		// Train: (50 + 20) / 10 = 7 tokens per example + 8 of labels; two
		// demonstrations in each of the 2 × 5 val calls.
		if d := few.Phases[3].InputTokens - rw.Phases[3].InputTokens; d != 2*15*10 {
			t.Errorf("epoch 1 val input grows by %d tokens, want %d", d, 2*15*10)
		}
		if few.Phases[0].InputTokens != rw.Phases[0].InputTokens {
			t.Error("the baseline has no demonstrations")
		}
	})
	t.Run("no epochs, no test split", func(t *testing.T) {
		cfg := base()
		cfg.Epochs = 0
		s := map[string]pipeline.SplitStats{"train": splits["train"], "val": splits["val"]}
		if got := pipeline.EstimateRun(cfg, s, config.Model{}).Calls; got != 15 {
			t.Errorf("calls %d, want the baseline's 15", got)
		}
	})
}
