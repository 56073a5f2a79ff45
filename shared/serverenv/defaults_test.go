package serverenv

import (
	"testing"

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
		{"vertex points runs at Gemini", Config{LLMProvider: "vertex", PrimaryModel: "gemini-x", OptimizerModel: "gemini-y"},
			config.Model{Provider: "vertex", Name: "gemini-x", Temperature: config.Defaults().Primary.Temperature},
			config.Model{Provider: "vertex", Name: "gemini-y", Temperature: config.Defaults().Optimizer.Model.Temperature}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(config.Layer{Source: "deployment defaults", Data: tt.c.defaultsLayer()})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Primary != tt.wantPrimary || cfg.Optimizer.Model != tt.wantOptimizer {
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
