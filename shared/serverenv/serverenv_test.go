package serverenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// required is the smallest valid environment.
var required = map[string]string{
	"PROMPTML_PROJECT":          "proj",
	"PROMPTML_DATASETS_BUCKET":  "ds",
	"PROMPTML_ARTIFACTS_BUCKET": "art",
}

func env(layers ...map[string]string) func(string) string {
	m := map[string]string{}
	for _, l := range layers {
		for k, v := range l {
			m[k] = v
		}
	}
	return func(k string) string { return m[k] }
}

func defaults() Config {
	return Config{
		Project:           "proj",
		Location:          "global",
		EmbeddingLocation: "us-central1",
		PrimaryThinking:   "minimal",
		OptimizerThinking: "high",
		DatasetsBucket:    "ds",
		ArtifactsBucket:   "art",
		BatchesTopic:      "promptml-batches",
		PhaseDoneTopic:    "promptml-phase-done",
		FirestoreDatabase: "(default)",
		LLMProvider:       "sim",
		// Were gemini-2.5-flash and gemini-2.5-pro, retired in October
		// 2026 (issue 16).
		PrimaryModel:   "gemini-3.1-flash-lite",
		OptimizerModel: "gemini-3.8-flash",
		EmbeddingModel: "text-embedding-005",
		Lease:          10 * time.Minute,
		BatchTimeout:   270 * time.Second,
		SimWrongRate:   0.05, // the documented default
		SimSeed:        1,
		FaultSeed:      1,
	}
}

func writeFile(t *testing.T, data string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "promptml.yaml")
	if err := os.WriteFile(f, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want func(c *Config)
	}{
		{"defaults", nil, func(*Config) {}},
		{"overrides", map[string]string{
			"PROMPTML_LOCATION":                      "europe-west1",
			"PROMPTML_EMBEDDING_LOCATION":            "europe-west4",
			"PROMPTML_PRIMARY_THINKING":              "low",
			"PROMPTML_OPTIMIZER_THINKING":            "medium",
			"PROMPTML_BATCHES_TOPIC":                 "b",
			"PROMPTML_PHASE_DONE_TOPIC":              "d",
			"PROMPTML_FIRESTORE_DATABASE":            "db",
			"PROMPTML_BIGQUERY_DATASET":              "analytics",
			"PROMPTML_LLM_PROVIDER":                  "vertex",
			"PROMPTML_PRIMARY_MODEL":                 "pm",
			"PROMPTML_OPTIMIZER_MODEL":               "om",
			"PROMPTML_EMBEDDING_MODEL":               "em",
			"PROMPTML_EMBEDDING_REQUESTS_PER_MINUTE": "600",
			"PROMPTML_EMBEDDING_TOKENS_PER_MINUTE":   "100000",
			"PROMPTML_LEASE":                         "90s",
			"PROMPTML_SIM_LATENCY":                   "200ms",
			"PROMPTML_SIM_ERROR_RATE":                "0.1",
			"PROMPTML_SIM_WRONG_RATE":                "0.5",
			"PROMPTML_SIM_SEED":                      "-7",
			"PROMPTML_BATCH_TIMEOUT":                 "2m",
			"PROMPTML_SIM_RETRY_AFTER":               "1s",
			"PROMPTML_FAULT_BATCH_RATE":              "0.2",
			"PROMPTML_FAULT_AGGREGATE_RATE":          "0.3",
			"PROMPTML_FAULT_SEED":                    "9",
			"PROMPTML_ALLOWED_PROVIDERS":             "vertex,openai",
			"PROMPTML_OPENAI_ENDPOINTS":              `[{"base_url":"https://x/v1","api_key_env":"K"}]`,
			"PROMPTML_FIRESTORE_RETENTION":           "2160h",
		}, func(c *Config) {
			c.AllowedProviders, c.OpenAIEndpoints = "vertex,openai", `[{"base_url":"https://x/v1","api_key_env":"K"}]`
			c.FirestoreRetention = 2160 * time.Hour
			c.FaultBatchRate, c.FaultAggregateRate, c.FaultSeed = 0.2, 0.3, 9
			c.BatchTimeout, c.SimRetryAfter = 2*time.Minute, time.Second
			c.Location, c.BatchesTopic, c.PhaseDoneTopic, c.FirestoreDatabase = "europe-west1", "b", "d", "db"
			c.EmbeddingLocation, c.PrimaryThinking, c.OptimizerThinking = "europe-west4", "low", "medium"
			c.BigQueryDataset, c.LLMProvider, c.PrimaryModel, c.OptimizerModel, c.EmbeddingModel = "analytics", "vertex", "pm", "om", "em"
			c.Lease, c.SimLatency = 90*time.Second, 200*time.Millisecond
			c.SimErrorRate, c.SimWrongRate, c.SimSeed = 0.1, 0.5, -7
			c.EmbeddingRequestsPerMinute, c.EmbeddingTokensPerMinute = 600, 100000
		}},
		{"empty values keep defaults", map[string]string{"PROMPTML_LOCATION": "", "PROMPTML_LEASE": ""}, func(*Config) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := defaults()
			tt.want(&want)
			got, err := load(env(required, tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("load (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		// mention must all appear in the error.
		mention []string
	}{
		{"bad duration", map[string]string{"PROMPTML_LEASE": "ten minutes"}, []string{"PROMPTML_LEASE", "ten minutes"}},
		{"bad latency", map[string]string{"PROMPTML_SIM_LATENCY": "5"}, []string{"PROMPTML_SIM_LATENCY"}},
		{"bad number", map[string]string{"PROMPTML_SIM_ERROR_RATE": "lots"}, []string{"PROMPTML_SIM_ERROR_RATE", "lots"}},
		{"bad wrong rate", map[string]string{"PROMPTML_SIM_WRONG_RATE": "1/2"}, []string{"PROMPTML_SIM_WRONG_RATE"}},
		{"bad seed", map[string]string{"PROMPTML_SIM_SEED": "1.5"}, []string{"PROMPTML_SIM_SEED"}},
		{"bad embedding rate", map[string]string{"PROMPTML_EMBEDDING_REQUESTS_PER_MINUTE": "-1"}, []string{"PROMPTML_EMBEDDING_REQUESTS_PER_MINUTE"}},
		{"bad embedding tokens", map[string]string{"PROMPTML_EMBEDDING_TOKENS_PER_MINUTE": "lots"}, []string{"PROMPTML_EMBEDDING_TOKENS_PER_MINUTE", "lots"}},
		{"several bad values together", map[string]string{"PROMPTML_LEASE": "x", "PROMPTML_SIM_ERROR_RATE": "y"}, []string{"PROMPTML_LEASE", "PROMPTML_SIM_ERROR_RATE"}},
		{"missing required vars listed together", map[string]string{"PROMPTML_PROJECT": "", "PROMPTML_DATASETS_BUCKET": "", "PROMPTML_ARTIFACTS_BUCKET": ""},
			[]string{"PROMPTML_PROJECT", "PROMPTML_DATASETS_BUCKET", "PROMPTML_ARTIFACTS_BUCKET"}},
		{"datasets == artifacts", map[string]string{"PROMPTML_ARTIFACTS_BUCKET": "ds"}, []string{"PROMPTML_DATASETS_BUCKET", "PROMPTML_ARTIFACTS_BUCKET", "differ"}},
		{"fault rate 1", map[string]string{"PROMPTML_FAULT_BATCH_RATE": "1"}, []string{"PROMPTML_FAULT_BATCH_RATE"}},
		{"negative fault rate", map[string]string{"PROMPTML_FAULT_AGGREGATE_RATE": "-0.5"}, []string{"PROMPTML_FAULT_AGGREGATE_RATE"}},
		{"bad fault seed", map[string]string{"PROMPTML_FAULT_SEED": "x"}, []string{"PROMPTML_FAULT_SEED"}},
		{"error rate 1", map[string]string{"PROMPTML_SIM_ERROR_RATE": "1"}, []string{"PROMPTML_SIM_ERROR_RATE"}},
		{"negative wrong rate", map[string]string{"PROMPTML_SIM_WRONG_RATE": "-0.1"}, []string{"PROMPTML_SIM_WRONG_RATE"}},
		{"bad openai endpoints", map[string]string{"PROMPTML_OPENAI_ENDPOINTS": "[{"}, []string{"PROMPTML_OPENAI_ENDPOINTS"}},
		{"bad retention", map[string]string{"PROMPTML_FIRESTORE_RETENTION": "90d"}, []string{"PROMPTML_FIRESTORE_RETENTION"}},
		{"bad thinking level", map[string]string{"PROMPTML_OPTIMIZER_THINKING": "max"}, []string{"PROMPTML_OPTIMIZER_THINKING", "max"}},
		{"unknown LLM provider", map[string]string{"PROMPTML_LLM_PROVIDER": "openai"}, []string{"PROMPTML_LLM_PROVIDER", "openai"}},
		{"lease too short", map[string]string{"PROMPTML_LEASE": "500ms"}, []string{"PROMPTML_LEASE", "1s"}},
		{"batch timeout too short", map[string]string{"PROMPTML_BATCH_TIMEOUT": "0s"}, []string{"PROMPTML_BATCH_TIMEOUT", "1s"}},
		{"missing config file", map[string]string{"PROMPTML_CONFIG_FILE": "/nonexistent/promptml.yaml"}, []string{"PROMPTML_CONFIG_FILE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(env(required, tt.env))
			if err == nil {
				t.Fatal("load = nil error")
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

// With nothing set, every required variable is named in one error.
func TestLoadEmptyEnvironment(t *testing.T) {
	_, err := load(env())
	if err == nil {
		t.Fatal("load(empty) = nil error")
	}
	for _, v := range []string{"PROMPTML_PROJECT", "PROMPTML_DATASETS_BUCKET", "PROMPTML_ARTIFACTS_BUCKET"} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("error %q does not name %s", err, v)
		}
	}
}

func TestLoadConfigFile(t *testing.T) {
	t.Run("overrides environment", func(t *testing.T) {
		f := writeFile(t, "project: fromfile\nartifacts_bucket: art2\nlease: 2m\nsim_wrong_rate: 0\nsim_seed: 9\n")
		got, err := load(env(required, map[string]string{"PROMPTML_CONFIG_FILE": f, "PROMPTML_SIM_WRONG_RATE": "0.5", "PROMPTML_LOCATION": "asia-east1"}))
		if err != nil {
			t.Fatal(err)
		}
		want := defaults()
		want.Project, want.ArtifactsBucket, want.Lease, want.SimWrongRate, want.SimSeed, want.Location = "fromfile", "art2", 2*time.Minute, 0, 9, "asia-east1"
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("load (-want +got):\n%s", diff)
		}
	})
	t.Run("supplies required values", func(t *testing.T) {
		f := writeFile(t, "project: p\ndatasets_bucket: d\nartifacts_bucket: a\n")
		got, err := load(env(map[string]string{"PROMPTML_CONFIG_FILE": f}))
		if err != nil {
			t.Fatal(err)
		}
		if got.Project != "p" || got.DatasetsBucket != "d" || got.ArtifactsBucket != "a" {
			t.Errorf("load = %+v", got)
		}
	})
	t.Run("unknown key rejected", func(t *testing.T) {
		f := writeFile(t, "project: p\ndataset_bucket: d\n")
		_, err := load(env(required, map[string]string{"PROMPTML_CONFIG_FILE": f}))
		if err == nil || !strings.Contains(err.Error(), "PROMPTML_CONFIG_FILE") || !strings.Contains(err.Error(), "dataset_bucket") {
			t.Errorf("load = %v, want an error naming PROMPTML_CONFIG_FILE and dataset_bucket", err)
		}
	})
	t.Run("file values are validated", func(t *testing.T) {
		f := writeFile(t, "artifacts_bucket: ds\n")
		_, err := load(env(required, map[string]string{"PROMPTML_CONFIG_FILE": f}))
		if err == nil || !strings.Contains(err.Error(), "must differ") {
			t.Errorf("load = %v, want the datasets == artifacts error", err)
		}
	})
	t.Run("malformed YAML", func(t *testing.T) {
		f := writeFile(t, "project: [p\n")
		_, err := load(env(required, map[string]string{"PROMPTML_CONFIG_FILE": f}))
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("load = %v, want an error naming %s", err, f)
		}
	})
}

func TestValidate(t *testing.T) {
	if err := defaults().Validate(); err != nil {
		t.Errorf("defaults().Validate() = %v", err)
	}
	c := defaults()
	c.BatchesTopic = ""
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "PROMPTML_BATCHES_TOPIC") {
		t.Errorf("Validate(no batches topic) = %v", err)
	}
}

// 0 in the instance configuration means "never wrong", which the simulator
// spells as a negative rate (its 0 is "use the default").
func TestSimWrongRate(t *testing.T) {
	for in, want := range map[float64]float64{0: -1, 0.05: 0.05, 1: 1} {
		if got := simWrongRate(in); got != want {
			t.Errorf("simWrongRate(%v) = %v, want %v", in, got, want)
		}
	}
}
