package serverenv

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/config"
)

func TestDefaultsLayer(t *testing.T) {
	tests := []struct {
		name          string
		c             Config
		wantPrimary   config.Model
		wantOptimizer config.Model
	}{
		{"sim keeps the embedded defaults", Config{LLMProvider: "sim"},
			config.Defaults().Primary, config.Defaults().Optimizer.Model},
		// Temperature 1.0 (was the embedded defaults' 0 and 0.7): Google's
		// guidance for Gemini 3 and later (issue 16).
		{"vertex points runs at Gemini", Config{LLMProvider: "vertex", PrimaryModel: "gemini-x", OptimizerModel: "gemini-y"},
			config.Model{Provider: "vertex", Name: "gemini-x", Temperature: 1},
			config.Model{Provider: "vertex", Name: "gemini-y", Temperature: 1}},
		{"with thinking levels", Config{LLMProvider: "vertex", PrimaryModel: "gemini-x", OptimizerModel: "gemini-y",
			PrimaryThinking: "minimal", OptimizerThinking: "high"},
			config.Model{Provider: "vertex", Name: "gemini-x", Temperature: 1, ThinkingLevel: "minimal"},
			config.Model{Provider: "vertex", Name: "gemini-y", Temperature: 1, ThinkingLevel: "high"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(config.Layer{Source: "deployment defaults", Data: tt.c.defaultsLayer()})
			if err != nil {
				t.Fatal(err)
			}
			if !cmp.Equal(cfg.Primary, tt.wantPrimary) || !cmp.Equal(cfg.Optimizer.Model, tt.wantOptimizer) {
				t.Errorf("primary %+v optimizer %+v, want %+v and %+v", cfg.Primary, cfg.Optimizer.Model, tt.wantPrimary, tt.wantOptimizer)
			}
			// A run's own config still wins over the deployment's.
			cfg, err = config.Load(config.Layer{Data: tt.c.defaultsLayer()}, config.Layer{Data: []byte("primary: {provider: sim, name: s}")})
			if err != nil || cfg.Primary.Provider != "sim" {
				t.Errorf("run override lost: %+v %v", cfg.Primary, err)
			}
		})
	}
}
