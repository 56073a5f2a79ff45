// Package serverenv builds, once per function instance, the clients every
// function shares (Firestore, Pub/Sub, Storage, the models) from the
// instance's configuration, and closes them.
package serverenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/storage"
	"github.com/goccy/go-yaml"
	"google.golang.org/genai"

	"github.com/promptml/promptml/shared/analytics"
	"github.com/promptml/promptml/shared/blob"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/fault"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/llm/openai"
	"github.com/promptml/promptml/shared/llm/sim"
	"github.com/promptml/promptml/shared/llm/vertex"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/queue"
	"github.com/promptml/promptml/shared/store"
)

// Config is the configuration of a function instance: environment
// variables, optionally overridden by the YAML file PROMPTML_CONFIG_FILE
// names (same keys as the yaml tags).
type Config struct {
	// Project is the Google Cloud project (PROMPTML_PROJECT; required).
	Project string `yaml:"project"`
	// Location is the Vertex AI location of the Gemini calls
	// (PROMPTML_LOCATION; default global: Gemini 3 and later models are
	// served on the global endpoint, several of them only there).
	Location string `yaml:"location"`
	// EmbeddingLocation is the Vertex AI region of the embedding calls of
	// semantic_similarity (PROMPTML_EMBEDDING_LOCATION; default
	// us-central1, where text-embedding-005 is served).
	EmbeddingLocation string `yaml:"embedding_location"`
	// DatasetsBucket is where users upload CSVs (PROMPTML_DATASETS_BUCKET; required).
	DatasetsBucket string `yaml:"datasets_bucket"`
	// ArtifactsBucket holds shards, results and exports
	// (PROMPTML_ARTIFACTS_BUCKET; required).
	ArtifactsBucket string `yaml:"artifacts_bucket"`
	// BatchesTopic (PROMPTML_BATCHES_TOPIC; default promptml-batches).
	BatchesTopic string `yaml:"batches_topic"`
	// PhaseDoneTopic (PROMPTML_PHASE_DONE_TOPIC; default promptml-phase-done).
	PhaseDoneTopic string `yaml:"phase_done_topic"`
	// FirestoreDatabase (PROMPTML_FIRESTORE_DATABASE; default "(default)").
	FirestoreDatabase string `yaml:"firestore_database"`
	// LLMProvider is the provider runs use unless their config names one:
	// "sim" (the offline simulator) or "vertex" (PROMPTML_LLM_PROVIDER;
	// default sim, set to vertex by Terraform).
	LLMProvider string `yaml:"llm_provider"`
	// PrimaryModel is the default primary model with the vertex provider
	// (PROMPTML_PRIMARY_MODEL; default gemini-3.1-flash-lite, the dated
	// catalog shared/config/models.yaml says why).
	PrimaryModel string `yaml:"primary_model"`
	// OptimizerModel is the default optimizer model with the vertex
	// provider (PROMPTML_OPTIMIZER_MODEL; default gemini-3.8-flash).
	OptimizerModel string `yaml:"optimizer_model"`
	// PrimaryThinking is the default primary model's thinking level
	// (PROMPTML_PRIMARY_THINKING; default minimal: the cheapest, since
	// the primary answers every example).
	PrimaryThinking string `yaml:"primary_thinking"`
	// OptimizerThinking is the default optimizer model's thinking level
	// (PROMPTML_OPTIMIZER_THINKING; default high: a few calls per epoch,
	// each deciding the next prompt).
	OptimizerThinking string `yaml:"optimizer_thinking"`
	// AllowedProviders lists, comma-separated, the providers a run may
	// name (PROMPTML_ALLOWED_PROVIDERS; Terraform sets it from
	// allowed_llm_providers). Unset: vertex only when LLMProvider is
	// vertex (a deployment), anything on the local cloud.
	AllowedProviders string `yaml:"allowed_providers"`
	// OpenAIEndpoints is the JSON list of the openai endpoints a run may
	// name, [{"base_url": ..., "api_key_env": ...}], each with the
	// environment variable holding its key (PROMPTML_OPENAI_ENDPOINTS;
	// Terraform sets it from openai_endpoints, the keys from Secret
	// Manager).
	OpenAIEndpoints string `yaml:"openai_endpoints"`
	// FirestoreRetention is how long events and upload records are kept
	// before the TTL policies delete them (PROMPTML_FIRESTORE_RETENTION, a
	// Go duration; default 0: no expire_at written; Terraform sets
	// firestore_retention_days).
	FirestoreRetention time.Duration `yaml:"firestore_retention"`
	// EmbeddingModel is the Vertex AI embedding model of the
	// semantic_similarity metric (PROMPTML_EMBEDDING_MODEL; default
	// text-embedding-005).
	EmbeddingModel string `yaml:"embedding_model"`
	// EmbeddingRequestsPerMinute bounds the embedding model's calls per
	// instance (PROMPTML_EMBEDDING_REQUESTS_PER_MINUTE; default 0: no
	// limit, adaptive concurrency only).
	EmbeddingRequestsPerMinute int `yaml:"embedding_requests_per_minute"`
	// EmbeddingTokensPerMinute bounds the embedding model's input tokens
	// per instance (PROMPTML_EMBEDDING_TOKENS_PER_MINUTE; default 0: no limit).
	EmbeddingTokensPerMinute int `yaml:"embedding_tokens_per_minute"`
	// BigQueryDataset receives the analytics rows
	// (PROMPTML_BIGQUERY_DATASET; empty disables analytics).
	BigQueryDataset string `yaml:"bigquery_dataset"`
	// Lease bounds how long a crashed aggregator blocks its phase or stage
	// (PROMPTML_LEASE, a Go duration; default 10m: longer than the
	// Aggregate function's timeout, 540 s in terraform/variables.tf and at
	// most 600 s, so a lease never expires under a live aggregator).
	Lease time.Duration `yaml:"lease"`
	// BatchTimeout bounds the model calls of one batch, retries included, so
	// that a batch fails while its function still runs
	// (PROMPTML_BATCH_TIMEOUT, a Go duration; default 4m30s = RunBatch's
	// 300 s timeout minus 30 s; Terraform derives it from
	// run_batch.timeout_seconds).
	BatchTimeout time.Duration `yaml:"batch_timeout"`
	// SimLatency is the simulator's latency per call (PROMPTML_SIM_LATENCY; default 0).
	SimLatency time.Duration `yaml:"sim_latency"`
	// SimErrorRate is the share of simulator calls failing with a transient
	// 429 (PROMPTML_SIM_ERROR_RATE; default 0).
	SimErrorRate float64 `yaml:"sim_error_rate"`
	// SimWrongRate is the share of inputs the simulator gets wrong whatever
	// the prompt (PROMPTML_SIM_WRONG_RATE; default 0.05).
	SimWrongRate float64 `yaml:"sim_wrong_rate"`
	// SimSeed seeds the simulator (PROMPTML_SIM_SEED; default 1).
	SimSeed int64 `yaml:"sim_seed"`
	// SimRetryAfter is the Retry-After of the simulator's 429s
	// (PROMPTML_SIM_RETRY_AFTER, a Go duration; default 0: none).
	SimRetryAfter time.Duration `yaml:"sim_retry_after"`
	// FaultBatchRate is the probability that a RunBatch invocation fails
	// at each fault point after part of its effects (chaos tests of the
	// local cloud: shared/fault; PROMPTML_FAULT_BATCH_RATE; default 0: off).
	FaultBatchRate float64 `yaml:"fault_batch_rate"`
	// FaultAggregateRate is the same for Aggregate invocations
	// (PROMPTML_FAULT_AGGREGATE_RATE; default 0: off).
	FaultAggregateRate float64 `yaml:"fault_aggregate_rate"`
	// FaultSeed seeds the fault decisions (PROMPTML_FAULT_SEED; default 1).
	FaultSeed int64 `yaml:"fault_seed"`
}

// FromEnv reads the configuration from the environment (and the file
// PROMPTML_CONFIG_FILE names, if any) and validates it.
func FromEnv() (Config, error) {
	return load(os.Getenv)
}

func load(getenv func(string) string) (Config, error) {
	c := Config{
		Location:          "global",
		EmbeddingLocation: "us-central1",
		PrimaryThinking:   "minimal",
		OptimizerThinking: "high",
		BatchesTopic:      queue.BatchesTopic,
		PhaseDoneTopic:    queue.PhaseDoneTopic,
		FirestoreDatabase: firestore.DefaultDatabaseID,
		Lease:             10 * time.Minute,
		BatchTimeout:      270 * time.Second,
		SimSeed:           1,
		FaultSeed:         1,
		SimWrongRate:      0.05,
		LLMProvider:       "sim",
		PrimaryModel:      DefaultPrimaryModel,
		OptimizerModel:    DefaultOptimizerModel,
		EmbeddingModel:    "text-embedding-005",
	}
	var errs []error
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	str("PROMPTML_PROJECT", &c.Project)
	str("PROMPTML_LOCATION", &c.Location)
	str("PROMPTML_EMBEDDING_LOCATION", &c.EmbeddingLocation)
	str("PROMPTML_PRIMARY_THINKING", &c.PrimaryThinking)
	str("PROMPTML_OPTIMIZER_THINKING", &c.OptimizerThinking)
	str("PROMPTML_DATASETS_BUCKET", &c.DatasetsBucket)
	str("PROMPTML_ARTIFACTS_BUCKET", &c.ArtifactsBucket)
	str("PROMPTML_BATCHES_TOPIC", &c.BatchesTopic)
	str("PROMPTML_PHASE_DONE_TOPIC", &c.PhaseDoneTopic)
	str("PROMPTML_FIRESTORE_DATABASE", &c.FirestoreDatabase)
	str("PROMPTML_BIGQUERY_DATASET", &c.BigQueryDataset)
	str("PROMPTML_LLM_PROVIDER", &c.LLMProvider)
	str("PROMPTML_PRIMARY_MODEL", &c.PrimaryModel)
	str("PROMPTML_OPTIMIZER_MODEL", &c.OptimizerModel)
	str("PROMPTML_EMBEDDING_MODEL", &c.EmbeddingModel)
	str("PROMPTML_ALLOWED_PROVIDERS", &c.AllowedProviders)
	str("PROMPTML_OPENAI_ENDPOINTS", &c.OpenAIEndpoints)
	dur := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: not a duration like 10m or 200ms", name, v))
				return
			}
			*dst = d
		}
	}
	dur("PROMPTML_LEASE", &c.Lease)
	dur("PROMPTML_BATCH_TIMEOUT", &c.BatchTimeout)
	dur("PROMPTML_FIRESTORE_RETENTION", &c.FirestoreRetention)
	dur("PROMPTML_SIM_LATENCY", &c.SimLatency)
	dur("PROMPTML_SIM_RETRY_AFTER", &c.SimRetryAfter)
	num := func(name string, dst *float64) {
		if v := getenv(name); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: not a number", name, v))
				return
			}
			*dst = f
		}
	}
	num("PROMPTML_SIM_ERROR_RATE", &c.SimErrorRate)
	num("PROMPTML_SIM_WRONG_RATE", &c.SimWrongRate)
	num("PROMPTML_FAULT_BATCH_RATE", &c.FaultBatchRate)
	num("PROMPTML_FAULT_AGGREGATE_RATE", &c.FaultAggregateRate)
	for _, n := range []struct {
		name string
		dst  *int
	}{{"PROMPTML_EMBEDDING_REQUESTS_PER_MINUTE", &c.EmbeddingRequestsPerMinute},
		{"PROMPTML_EMBEDDING_TOKENS_PER_MINUTE", &c.EmbeddingTokensPerMinute}} {
		if v := getenv(n.name); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil || i < 0 {
				errs = append(errs, fmt.Errorf("%s=%q: not an integer >= 0", n.name, v))
				continue
			}
			*n.dst = i
		}
	}
	if v := getenv("PROMPTML_SIM_SEED"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("PROMPTML_SIM_SEED=%q: not an integer", v))
		}
		c.SimSeed = n
	}
	if v := getenv("PROMPTML_FAULT_SEED"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("PROMPTML_FAULT_SEED=%q: not an integer", v))
		}
		c.FaultSeed = n
	}
	if f := getenv("PROMPTML_CONFIG_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("PROMPTML_CONFIG_FILE: %w", err))
		} else if err := yaml.UnmarshalWithOptions(b, &c, yaml.DisallowUnknownField()); err != nil {
			errs = append(errs, fmt.Errorf("PROMPTML_CONFIG_FILE %s: %s", f, strings.Join(strings.Fields(err.Error()), " ")))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// Validate checks the configuration with a message naming the variable.
func (c Config) Validate() error {
	var errs []error
	for _, r := range []struct{ name, v string }{
		{"PROMPTML_PROJECT", c.Project},
		{"PROMPTML_DATASETS_BUCKET", c.DatasetsBucket},
		{"PROMPTML_ARTIFACTS_BUCKET", c.ArtifactsBucket},
		{"PROMPTML_BATCHES_TOPIC", c.BatchesTopic},
		{"PROMPTML_PHASE_DONE_TOPIC", c.PhaseDoneTopic},
	} {
		if r.v == "" {
			errs = append(errs, fmt.Errorf("%s is required", r.name))
		}
	}
	if c.DatasetsBucket != "" && c.DatasetsBucket == c.ArtifactsBucket {
		errs = append(errs, errors.New("PROMPTML_DATASETS_BUCKET and PROMPTML_ARTIFACTS_BUCKET must differ, or writing artifacts would start runs"))
	}
	if c.LLMProvider != "sim" && c.LLMProvider != "vertex" {
		errs = append(errs, fmt.Errorf("PROMPTML_LLM_PROVIDER must be sim or vertex, got %q", c.LLMProvider))
	}
	for _, r := range []struct{ name, v string }{
		{"PROMPTML_PRIMARY_THINKING", c.PrimaryThinking}, {"PROMPTML_OPTIMIZER_THINKING", c.OptimizerThinking},
	} {
		switch r.v {
		case "", "minimal", "low", "medium", "high":
		default:
			errs = append(errs, fmt.Errorf("%s must be minimal, low, medium, high or empty (the model's default), got %q", r.name, r.v))
		}
	}
	if c.SimErrorRate < 0 || c.SimErrorRate >= 1 {
		errs = append(errs, fmt.Errorf("PROMPTML_SIM_ERROR_RATE must be in [0,1), got %v", c.SimErrorRate))
	}
	if c.SimWrongRate < 0 || c.SimWrongRate > 1 {
		errs = append(errs, fmt.Errorf("PROMPTML_SIM_WRONG_RATE must be in [0,1], got %v", c.SimWrongRate))
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"PROMPTML_FAULT_BATCH_RATE", c.FaultBatchRate}, {"PROMPTML_FAULT_AGGREGATE_RATE", c.FaultAggregateRate}} {
		if r.v < 0 || r.v >= 1 {
			errs = append(errs, fmt.Errorf("%s must be in [0,1), got %v", r.name, r.v))
		}
	}
	if c.BatchTimeout < time.Second {
		errs = append(errs, fmt.Errorf("PROMPTML_BATCH_TIMEOUT must be at least 1s, got %v", c.BatchTimeout))
	}
	if c.Lease < time.Second {
		errs = append(errs, fmt.Errorf("PROMPTML_LEASE must be at least 1s, got %v", c.Lease))
	}
	if c.FirestoreRetention < 0 {
		errs = append(errs, fmt.Errorf("PROMPTML_FIRESTORE_RETENTION must be >= 0 (0: kept forever), got %v", c.FirestoreRetention))
	}
	if _, err := c.allowlist(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid function configuration:\n%w", err)
	}
	return nil
}

// Env holds an instance's clients.
type Env struct {
	Config    Config
	Firestore *firestore.Client
	PubSub    *pubsub.Client
	Storage   *storage.Client
	Publisher *queue.Publisher
	Analytics *analytics.Writer
	Pipeline  *pipeline.Pipeline

	// allow is the instance's allowlist (Config.allowlist).
	allow  config.Allowlist
	mu     sync.Mutex
	sim    *sim.Model
	vertex map[string]*vertex.Model
	openai map[string]*openai.Model
}

// New builds every client. The emulator variables (FIRESTORE_EMULATOR_HOST,
// PUBSUB_EMULATOR_HOST, STORAGE_EMULATOR_HOST) point them at the local
// cloud.
func New(ctx context.Context, c Config) (*Env, error) {
	e := &Env{Config: c, vertex: map[string]*vertex.Model{}, openai: map[string]*openai.Model{}}
	var err error
	if e.allow, err = c.allowlist(); err != nil {
		return nil, fmt.Errorf("serverenv.New: %w", err)
	}
	if e.Firestore, err = firestore.NewClientWithDatabase(ctx, c.Project, c.FirestoreDatabase); err != nil {
		return nil, fmt.Errorf("serverenv.New: firestore: %w", err)
	}
	if e.PubSub, err = pubsub.NewClient(ctx, c.Project); err != nil {
		e.Close()
		return nil, fmt.Errorf("serverenv.New: pubsub: %w", err)
	}
	if e.Storage, err = storage.NewClient(ctx); err != nil {
		e.Close()
		return nil, fmt.Errorf("serverenv.New: storage: %w", err)
	}
	e.Publisher = queue.NewPublisher(e.PubSub, c.BatchesTopic, c.PhaseDoneTopic)
	if c.BigQueryDataset != "" {
		if e.Analytics, err = analytics.New(ctx, c.Project, c.BigQueryDataset); err != nil {
			e.Close()
			return nil, fmt.Errorf("serverenv.New: analytics: %w", err)
		}
	}
	deps := pipeline.Deps{
		Store:    store.New(e.Firestore).WithRetention(c.FirestoreRetention),
		Blob:     blob.New(e.Storage),
		Queue:    e.Publisher,
		Models:   e,
		Embedder: &lazyEmbedder{env: e},
		// The response cache lives next to the runs' artifacts
		// (docs/llm.md#the-response-cache).
		Cache: &blob.Cache{Store: blob.New(e.Storage), Bucket: c.ArtifactsBucket},
	}
	if in := c.faults(); in != nil {
		deps.Faults = in
	}
	if e.Analytics != nil {
		// Only a configured writer: a nil *Writer in the interface would
		// not compare equal to nil.
		deps.Analytics = e.Analytics
	}
	e.Pipeline, err = pipeline.New(deps, pipeline.Config{
		DatasetsBucket:  c.DatasetsBucket,
		ArtifactsBucket: c.ArtifactsBucket,
		Defaults:        c.defaultsLayer(),
		EmbeddingModel: config.Model{Provider: "vertex", Name: c.EmbeddingModel,
			RequestsPerMinute: c.EmbeddingRequestsPerMinute, TokensPerMinute: c.EmbeddingTokensPerMinute},
		Allowlist:    e.allow,
		Lease:        c.Lease,
		BatchTimeout: c.BatchTimeout,
	})
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("serverenv.New: %w", err)
	}
	return e, nil
}

// allowlist is the instance's config.Allowlist. A deployment (vertex as the
// default provider) that sets none allows vertex only, so a
// misconfiguration never opens it.
func (c Config) allowlist() (config.Allowlist, error) {
	providers := c.AllowedProviders
	if providers == "" && c.LLMProvider == "vertex" {
		providers = "vertex"
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
// defaults and a run's own: it points runs at Vertex AI when the deployment
// says so, at temperature 1.0 (Google's guidance for Gemini 3 and later;
// reproducibility comes from the response cache and the gate's tests,
// docs/llm.md) and with the deployment's thinking levels.
func (c Config) defaultsLayer() []byte {
	if c.LLMProvider != "vertex" {
		return nil
	}
	model := func(name, thinking string) string {
		m := fmt.Sprintf("{provider: vertex, name: %q, temperature: 1.0", name)
		if thinking != "" {
			m += fmt.Sprintf(", thinking_level: %q", thinking)
		}
		return m + "}"
	}
	return []byte(fmt.Sprintf("primary: %s\noptimizer: {model: %s}\n",
		model(c.PrimaryModel, c.PrimaryThinking), model(c.OptimizerModel, c.OptimizerThinking)))
}

// simWrongRate maps our 0 ("never wrong") to the simulator's "never"
// (negative); the simulator reads 0 as "its default".
func simWrongRate(r float64) float64 {
	if r == 0 {
		return -1
	}
	return r
}

// lazyEmbedder builds the Vertex AI embedding client on first use, so
// instances whose runs never use semantic_similarity never build it.
type lazyEmbedder struct {
	env  *Env
	mu   sync.Mutex
	next *eval.GenAIEmbedder
}

// EmbedText implements llm.EmbedModel.
func (l *lazyEmbedder) EmbedText(ctx context.Context, req *llm.EmbedRequest) (*llm.Embedding, error) {
	l.mu.Lock()
	if l.next == nil {
		client, err := genai.NewClient(ctx, &genai.ClientConfig{Backend: genai.BackendVertexAI,
			Project: l.env.Config.Project, Location: l.env.Config.EmbeddingLocation})
		if err != nil {
			l.mu.Unlock()
			return nil, fmt.Errorf("serverenv: embedding client: %w", err)
		}
		l.next = eval.NewGenAIEmbedder(client, l.env.Config.EmbeddingModel)
	}
	next := l.next
	l.mu.Unlock()
	out, err := next.EmbedText(ctx, req)
	// Classified like a generation call, so the pipeline retries only
	// what may succeed later.
	return out, vertex.Classify(err)
}

// Model returns the model a run config names, building its client once.
func (e *Env) Model(ctx context.Context, m config.Model) (pipeline.Generator, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch m.Provider {
	case "sim":
		if e.Config.LLMProvider != "sim" {
			// The simulator's answer key is the datasets bucket, which the
			// deployed RunBatch and Aggregate may not read (least
			// privilege): it is a local-cloud provider.
			return nil, fmt.Errorf("serverenv.Model: the sim provider runs only on the local cloud; this deployment uses %s (set primary.provider and optimizer.model.provider to %s)", e.Config.LLMProvider, e.Config.LLMProvider)
		}
		if e.sim == nil {
			// The simulator's answer key is the datasets bucket itself,
			// never the pipeline's own calls (docs/simulator.md).
			e.sim = sim.New(sim.Options{
				Key:        sim.NewBucketKey(e.Storage, e.Config.DatasetsBucket, 2*time.Second),
				WrongRate:  simWrongRate(e.Config.SimWrongRate),
				Seed:       e.Config.SimSeed,
				Latency:    e.Config.SimLatency,
				ErrorRate:  e.Config.SimErrorRate,
				RetryAfter: e.Config.SimRetryAfter,
			})
		}
		return e.sim, nil
	case "vertex":
		if v, ok := e.vertex[m.Name]; ok {
			return v, nil
		}
		v, err := vertex.New(ctx, vertex.Options{Project: e.Config.Project, Location: e.Config.Location, Model: m.Name})
		if err != nil {
			return nil, fmt.Errorf("serverenv.Model: %w", err)
		}
		e.vertex[m.Name] = v
		return v, nil
	case "openai":
		// The key comes from the deployment's endpoint list, never from the
		// run config: it is only ever sent to the endpoint it belongs to.
		// The intake refused configs outside the allowlist; this refuses
		// them again for a run started before the allowlist changed.
		allow := e.allow
		ep, listed := allow.Endpoint(m.BaseURL)
		if allow.Restricted() && (!listed || !slices.Contains(allow.Providers, "openai")) {
			return nil, fmt.Errorf("serverenv.Model: openai endpoint %s is not allowed in this deployment (terraform openai_endpoints)", m.BaseURL)
		}
		key := config.NormalizeBaseURL(m.BaseURL) + "\x00" + m.Name
		if o, ok := e.openai[key]; ok {
			return o, nil
		}
		apiKey := ""
		if ep.APIKeyEnv != "" {
			if apiKey = os.Getenv(ep.APIKeyEnv); apiKey == "" {
				return nil, fmt.Errorf("serverenv.Model: the key of openai endpoint %s (%s) is not set on this function: is its secret readable?", m.BaseURL, ep.APIKeyEnv)
			}
		}
		o, err := openai.New(openai.Options{BaseURL: m.BaseURL, Model: m.Name, APIKey: apiKey})
		if err != nil {
			return nil, fmt.Errorf("serverenv.Model: %w", err)
		}
		e.openai[key] = o
		return o, nil
	}
	return nil, fmt.Errorf("serverenv.Model: unknown provider %q", m.Provider)
}

// Close releases the clients.
func (e *Env) Close() error {
	var errs []error
	if e.Publisher != nil {
		e.Publisher.Stop()
	}
	if e.Analytics != nil {
		errs = append(errs, e.Analytics.Close())
	}
	if e.PubSub != nil {
		errs = append(errs, e.PubSub.Close())
	}
	if e.Firestore != nil {
		errs = append(errs, e.Firestore.Close())
	}
	if e.Storage != nil {
		errs = append(errs, e.Storage.Close())
	}
	return errors.Join(errs...)
}

var (
	instanceMu sync.Mutex
	instance   *Env
)

// Instance returns the process's Env, building it on first use. A failed
// build is retried on the next call (the error names what is wrong).
func Instance(ctx context.Context) (*Env, error) {
	instanceMu.Lock()
	defer instanceMu.Unlock()
	if instance != nil {
		return instance, nil
	}
	c, err := FromEnv()
	if err != nil {
		return nil, err
	}
	e, err := New(ctx, c)
	if err != nil {
		return nil, err
	}
	instance = e
	return e, nil
}
