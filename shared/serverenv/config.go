package serverenv

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/goccy/go-yaml"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/fault"
	"github.com/promptml/promptml/shared/llm/provider"
	"github.com/promptml/promptml/shared/llm/sim"
	"github.com/promptml/promptml/shared/llm/vertex"
	"github.com/promptml/promptml/shared/queue"
)

// Config is the configuration of a function instance. Each field is one
// row of settings (its PROMPTML_* variable, its default, its parser and
// what a valid value is); the YAML file PROMPTML_CONFIG_FILE names
// overrides the environment with the same keys as the yaml tags.
// docs/config.md lists every setting (config_test.go keeps it in step).
type Config struct {
	// Project is the Google Cloud project (required).
	Project string `yaml:"project"`
	// Location is the Vertex AI location of the Gemini calls (global by
	// default: Gemini 3 and later models are served on the global
	// endpoint, several of them only there).
	Location string `yaml:"location"`
	// EmbeddingLocation is the Vertex AI region of the embedding calls of
	// semantic_similarity (us-central1 by default, where
	// text-embedding-005 is served).
	EmbeddingLocation string `yaml:"embedding_location"`
	// DatasetsBucket is where users upload CSVs (required).
	DatasetsBucket string `yaml:"datasets_bucket"`
	// ArtifactsBucket holds shards, results and exports (required).
	ArtifactsBucket string `yaml:"artifacts_bucket"`
	// BatchesTopic carries the batch messages.
	BatchesTopic string `yaml:"batches_topic"`
	// PhaseDoneTopic carries the phase-done messages.
	PhaseDoneTopic string `yaml:"phase_done_topic"`
	// FirestoreDatabase is the Firestore database id.
	FirestoreDatabase string `yaml:"firestore_database"`
	// LLMProvider is the provider runs use unless their config names one:
	// a registered provider whose models need no endpoint (sim, the
	// offline simulator, or vertex; Terraform sets vertex).
	LLMProvider string `yaml:"llm_provider"`
	// PrimaryModel is the deployment's default primary model (with a
	// provider other than sim; the dated catalog shared/config/models.yaml
	// says why the default).
	PrimaryModel string `yaml:"primary_model"`
	// OptimizerModel is the deployment's default optimizer model (with a
	// provider other than sim).
	OptimizerModel string `yaml:"optimizer_model"`
	// PrimaryThinking is the default primary model's thinking level
	// (minimal by default: the cheapest, since the primary answers every
	// example).
	PrimaryThinking string `yaml:"primary_thinking"`
	// OptimizerThinking is the default optimizer model's thinking level
	// (high by default: a few calls per epoch, each deciding the next
	// prompt).
	OptimizerThinking string `yaml:"optimizer_thinking"`
	// AllowedProviders lists, comma-separated, the providers a run may
	// name (Terraform sets it from allowed_llm_providers). Unset: vertex
	// only when LLMProvider is vertex (a deployment), anything on the
	// local cloud.
	AllowedProviders string `yaml:"allowed_providers"`
	// OpenAIEndpoints is the JSON list of the openai endpoints a run may
	// name, [{"base_url": ..., "api_key_env": ...}], each with the
	// environment variable holding its key (Terraform sets it from
	// openai_endpoints, the keys from Secret Manager).
	OpenAIEndpoints string `yaml:"openai_endpoints"`
	// FirestoreRetention is how long events and upload records are kept
	// before the TTL policies delete them (0: no expire_at written;
	// Terraform sets firestore_retention_days).
	FirestoreRetention time.Duration `yaml:"firestore_retention"`
	// EmbeddingModel is the Vertex AI embedding model of the
	// semantic_similarity metric.
	EmbeddingModel string `yaml:"embedding_model"`
	// EmbeddingRequestsPerMinute bounds the embedding model's calls per
	// instance (0: no limit, adaptive concurrency only).
	EmbeddingRequestsPerMinute int `yaml:"embedding_requests_per_minute"`
	// EmbeddingTokensPerMinute bounds the embedding model's input tokens
	// per instance (0: no limit).
	EmbeddingTokensPerMinute int `yaml:"embedding_tokens_per_minute"`
	// BigQueryDataset receives the analytics rows (empty disables
	// analytics).
	BigQueryDataset string `yaml:"bigquery_dataset"`
	// Lease bounds how long a crashed aggregator blocks its phase or stage
	// (the default, 10m, is longer than the Aggregate function's timeout,
	// 540 s in terraform/variables.tf and at most 600 s, so a lease never
	// expires under a live aggregator).
	Lease time.Duration `yaml:"lease"`
	// BatchTimeout bounds the model calls of one batch, retries included, so
	// that a batch fails while its function still runs (the default is
	// RunBatch's 300 s timeout minus 30 s; Terraform derives it from
	// run_batch.timeout_seconds).
	BatchTimeout time.Duration `yaml:"batch_timeout"`
	// SimLatency is the simulator's latency per call.
	SimLatency time.Duration `yaml:"sim_latency"`
	// SimErrorRate is the share of simulator calls failing with a transient
	// 429.
	SimErrorRate float64 `yaml:"sim_error_rate"`
	// SimWrongRate is the share of inputs the simulator gets wrong whatever
	// the prompt (0: never).
	SimWrongRate float64 `yaml:"sim_wrong_rate"`
	// SimSeed seeds the simulator.
	SimSeed int64 `yaml:"sim_seed"`
	// SimRetryAfter is the Retry-After of the simulator's 429s (0: none).
	SimRetryAfter time.Duration `yaml:"sim_retry_after"`
	// FaultBatchRate is the probability that a RunBatch invocation fails
	// at each fault point after part of its effects (chaos tests of the
	// local cloud: shared/fault; 0: off).
	FaultBatchRate float64 `yaml:"fault_batch_rate"`
	// FaultAggregateRate is the same for Aggregate invocations (0: off).
	FaultAggregateRate float64 `yaml:"fault_aggregate_rate"`
	// FaultSeed seeds the fault decisions.
	FaultSeed int64 `yaml:"fault_seed"`
}

// configFile is the variable naming the YAML file that overrides the
// environment.
const configFile = "PROMPTML_CONFIG_FILE"

// settings is every instance setting, one row each, in the order
// docs/config.md lists them and errors name them. A row's default is
// written as the variable would be and parsed like it: it is written
// nowhere else.
func (c *Config) settings() []setting {
	return []setting{
		{name: "PROMPTML_PROJECT", val: text(&c.Project), check: nonEmpty(&c.Project)},
		{name: "PROMPTML_LOCATION", def: "global", val: text(&c.Location)},
		{name: "PROMPTML_EMBEDDING_LOCATION", def: "us-central1", val: text(&c.EmbeddingLocation)},
		{name: "PROMPTML_DATASETS_BUCKET", val: text(&c.DatasetsBucket), check: nonEmpty(&c.DatasetsBucket)},
		{name: "PROMPTML_ARTIFACTS_BUCKET", val: text(&c.ArtifactsBucket), check: nonEmpty(&c.ArtifactsBucket)},
		{name: "PROMPTML_BATCHES_TOPIC", def: queue.BatchesTopic, val: text(&c.BatchesTopic), check: nonEmpty(&c.BatchesTopic)},
		{name: "PROMPTML_PHASE_DONE_TOPIC", def: queue.PhaseDoneTopic, val: text(&c.PhaseDoneTopic), check: nonEmpty(&c.PhaseDoneTopic)},
		{name: "PROMPTML_FIRESTORE_DATABASE", def: firestore.DefaultDatabaseID, val: text(&c.FirestoreDatabase)},
		{name: "PROMPTML_LLM_PROVIDER", def: sim.Name, val: text(&c.LLMProvider), check: defaultProvider(&c.LLMProvider)},
		{name: "PROMPTML_PRIMARY_MODEL", def: DefaultPrimaryModel, val: text(&c.PrimaryModel)},
		{name: "PROMPTML_OPTIMIZER_MODEL", def: DefaultOptimizerModel, val: text(&c.OptimizerModel)},
		{name: "PROMPTML_PRIMARY_THINKING", def: "minimal", val: text(&c.PrimaryThinking), check: thinkingLevel(&c.PrimaryThinking)},
		{name: "PROMPTML_OPTIMIZER_THINKING", def: "high", val: text(&c.OptimizerThinking), check: thinkingLevel(&c.OptimizerThinking)},
		{name: "PROMPTML_ALLOWED_PROVIDERS", val: text(&c.AllowedProviders)},
		{name: "PROMPTML_OPENAI_ENDPOINTS", val: text(&c.OpenAIEndpoints)},
		{name: "PROMPTML_FIRESTORE_RETENTION", def: "0", val: duration(&c.FirestoreRetention), check: nonNegative(&c.FirestoreRetention)},
		{name: "PROMPTML_EMBEDDING_MODEL", def: "text-embedding-005", val: text(&c.EmbeddingModel)},
		{name: "PROMPTML_EMBEDDING_REQUESTS_PER_MINUTE", def: "0", val: count(&c.EmbeddingRequestsPerMinute)},
		{name: "PROMPTML_EMBEDDING_TOKENS_PER_MINUTE", def: "0", val: count(&c.EmbeddingTokensPerMinute)},
		{name: "PROMPTML_BIGQUERY_DATASET", val: text(&c.BigQueryDataset)},
		{name: "PROMPTML_LEASE", def: "10m", val: duration(&c.Lease), check: atLeast(&c.Lease, time.Second)},
		{name: "PROMPTML_BATCH_TIMEOUT", def: "4m30s", val: duration(&c.BatchTimeout), check: atLeast(&c.BatchTimeout, time.Second)},
		{name: "PROMPTML_SIM_LATENCY", def: "0", val: duration(&c.SimLatency)},
		{name: "PROMPTML_SIM_ERROR_RATE", def: "0", val: number(&c.SimErrorRate), check: share(&c.SimErrorRate, false)},
		{name: "PROMPTML_SIM_WRONG_RATE", def: "0.05", val: number(&c.SimWrongRate), check: share(&c.SimWrongRate, true)},
		{name: "PROMPTML_SIM_SEED", def: "1", val: integer(&c.SimSeed)},
		{name: "PROMPTML_SIM_RETRY_AFTER", def: "0", val: duration(&c.SimRetryAfter)},
		{name: "PROMPTML_FAULT_BATCH_RATE", def: "0", val: number(&c.FaultBatchRate), check: share(&c.FaultBatchRate, false)},
		{name: "PROMPTML_FAULT_AGGREGATE_RATE", def: "0", val: number(&c.FaultAggregateRate), check: share(&c.FaultAggregateRate, false)},
		{name: "PROMPTML_FAULT_SEED", def: "1", val: integer(&c.FaultSeed)},
	}
}

// setting is one row of settings.
type setting struct {
	// name is the environment variable.
	name string
	// def is the default, in the variable's own form ("" for none: the
	// zero value).
	def string
	// val parses a value into its Config field.
	val value
	// check, when set, says what is wrong with the field's final value
	// (after the file), "" when it is valid.
	check func() string
}

// value parses a variable into one Config field.
type value struct {
	// kind is the value's type as docs/config.md names it.
	kind string
	// dst is the field (a pointer into the Config).
	dst any
	// set parses v into the field, or says what v is not.
	set func(v string) error
}

func text(dst *string) value {
	return value{"string", dst, func(v string) error { *dst = v; return nil }}
}

func duration(dst *time.Duration) value {
	return value{"Go duration", dst, func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("not a duration like 10m or 200ms")
		}
		*dst = d
		return nil
	}}
}

func number(dst *float64) value {
	return value{"number", dst, func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return errors.New("not a number")
		}
		*dst = f
		return nil
	}}
}

// count is an integer >= 0.
func count(dst *int) value {
	return value{"integer", dst, func(v string) error {
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 {
			return errors.New("not an integer >= 0")
		}
		*dst = i
		return nil
	}}
}

func integer(dst *int64) value {
	return value{"integer", dst, func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errors.New("not an integer")
		}
		*dst = n
		return nil
	}}
}

func nonEmpty(v *string) func() string {
	return func() string {
		if *v == "" {
			return "is required"
		}
		return ""
	}
}

func atLeast(v *time.Duration, min time.Duration) func() string {
	return func() string {
		if *v < min {
			return fmt.Sprintf("must be at least %v, got %v", min, *v)
		}
		return ""
	}
}

func nonNegative(v *time.Duration) func() string {
	return func() string {
		if *v < 0 {
			return fmt.Sprintf("must be >= 0 (0: kept forever), got %v", *v)
		}
		return ""
	}
}

// thinkingLevel is a model's thinking level, or empty for the model's
// default.
func thinkingLevel(v *string) func() string {
	return func() string {
		switch *v {
		case "", "minimal", "low", "medium", "high":
			return ""
		}
		return fmt.Sprintf("must be minimal, low, medium, high or empty (the model's default), got %q", *v)
	}
}

// share is a number in [0,1), or [0,1] with closed.
func share(v *float64, closed bool) func() string {
	return func() string {
		if *v < 0 || *v > 1 || (*v == 1 && !closed) {
			if closed {
				return fmt.Sprintf("must be in [0,1], got %v", *v)
			}
			return fmt.Sprintf("must be in [0,1), got %v", *v)
		}
		return ""
	}
}

// defaultProvider is a registered provider whose models need no endpoint:
// the deployment defaults name a model of it by name alone.
func defaultProvider(v *string) func() string {
	return func() string {
		ok := provider.Names(func(p provider.Provider) bool { return !p.Endpoint })
		for _, n := range ok {
			if *v == n {
				return ""
			}
		}
		return fmt.Sprintf("must be %s, got %q", strings.Join(ok, " or "), *v)
	}
}

// FromEnv reads the configuration from the environment (and the file
// PROMPTML_CONFIG_FILE names, if any) and validates it.
func FromEnv() (Config, error) {
	return load(os.Getenv)
}

// load reads every setting from getenv (an empty variable is unset), then
// the file, and names every bad value in one error.
func load(getenv func(string) string) (Config, error) {
	var c Config
	var errs []error
	for _, s := range c.settings() {
		v := getenv(s.name)
		if v == "" {
			v = s.def
		}
		if v == "" {
			continue
		}
		if err := s.val.set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", s.name, v, err))
		}
	}
	if f := getenv(configFile); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", configFile, err))
		} else if err := yaml.UnmarshalWithOptions(b, &c, yaml.DisallowUnknownField()); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %s", configFile, f, strings.Join(strings.Fields(err.Error()), " ")))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// Validate checks the configuration, naming the variable of every bad
// value.
func (c Config) Validate() error {
	var errs []error
	for _, s := range c.settings() {
		if s.check == nil {
			continue
		}
		if why := s.check(); why != "" {
			errs = append(errs, fmt.Errorf("%s %s", s.name, why))
		}
	}
	if c.DatasetsBucket != "" && c.DatasetsBucket == c.ArtifactsBucket {
		errs = append(errs, errors.New("PROMPTML_DATASETS_BUCKET and PROMPTML_ARTIFACTS_BUCKET must differ, or writing artifacts would start runs"))
	}
	// The allowlist names providers: the registered ones (config.ParseAllowlist).
	if _, err := c.allowlist(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid function configuration:\n%w", err)
	}
	return nil
}

// allowlist is the instance's config.Allowlist. A deployment (vertex as the
// default provider) that sets none allows vertex only, so a
// misconfiguration never opens it.
func (c Config) allowlist() (config.Allowlist, error) {
	providers := c.AllowedProviders
	if providers == "" && c.LLMProvider == vertex.Name {
		providers = vertex.Name
	}
	return config.ParseAllowlist(providers, c.OpenAIEndpoints)
}

// faults is the instance's fault injector, nil (no injection) unless a
// fault rate is set.
func (c Config) faults() *fault.Injector {
	in := &fault.Injector{BatchRate: c.FaultBatchRate, AggregateRate: c.FaultAggregateRate, Seed: c.FaultSeed}
	if !in.Enabled() {
		return nil
	}
	return in
}

// The deployment's default Gemini models (shared/config/models.yaml, as of
// 2026-12-04): a cheap GA model for the primary, which answers every
// example, and the newest GA Flash model for the optimizer. Both are
// served on the global endpoint.
const (
	DefaultPrimaryModel   = "gemini-3.1-flash-lite"
	DefaultOptimizerModel = "gemini-3.8-flash"
)

// defaultsLayer is the deployment's config layer between the embedded
// defaults and a run's own: it points runs at the instance's provider
// (vertex in a deployment) when that is not the simulator the embedded
// defaults already name, at temperature 1.0 (Google's guidance for Gemini
// 3 and later; reproducibility comes from the response cache and the
// gate's tests, docs/llm.md) and with the deployment's thinking levels.
func (c Config) defaultsLayer() []byte {
	if c.LLMProvider == sim.Name {
		return nil
	}
	model := func(name, thinking string) string {
		m := fmt.Sprintf("{provider: %q, name: %q, temperature: 1.0", c.LLMProvider, name)
		if thinking != "" {
			m += fmt.Sprintf(", thinking_level: %q", thinking)
		}
		return m + "}"
	}
	return []byte(fmt.Sprintf("primary: %s\noptimizer: {model: %s}\n",
		model(c.PrimaryModel, c.PrimaryThinking), model(c.OptimizerModel, c.OptimizerThinking)))
}
