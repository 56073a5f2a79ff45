// Package pipeline is the training loop: the start of a run (intake and
// split), the scoring of one batch, and the aggregator's state machine
// (baseline → epochs of optimizer, candidates and gate → test → export).
// The stage graph is stages.go; its decisions are pure functions in
// decide.go; transitions (transition.go) compute the next step, and one
// place commits it (step.go). The functions under functions/ decode their
// trigger and call New's Pipeline.
package pipeline

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/promptml/promptml/shared/analytics"
	"github.com/promptml/promptml/shared/blob"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/queue"
	"github.com/promptml/promptml/shared/store"
)

// Generator is a model the pipeline calls.
type Generator interface {
	Generate(ctx context.Context, req *llm.Request) (*llm.Response, error)
}

// Models returns the model a config names; implementations build each
// client once per instance.
type Models interface {
	Model(ctx context.Context, m config.Model) (Generator, error)
}

// Queue publishes the pipeline's messages.
type Queue interface {
	PublishBatches(ctx context.Context, msgs []queue.BatchMessage) error
	PublishPhaseDone(ctx context.Context, m queue.PhaseDoneMessage) error
}

// Blob is the Cloud Storage the pipeline reads and writes (*blob.Store).
type Blob interface {
	Stat(ctx context.Context, bucket, name string) (blob.Attrs, error)
	Open(ctx context.Context, bucket, name string, generation int64) (io.ReadCloser, error)
	ReadAll(ctx context.Context, bucket, name string, limit int64) ([]byte, error)
	Writer(ctx context.Context, bucket, name, contentType string) io.WriteCloser
	Write(ctx context.Context, bucket, name, contentType string, data []byte) error
}

// Analytics appends the BigQuery rows (shared/analytics). Rows carry
// deterministic insert ids, so a redelivered step that appends again is
// deduplicated by BigQuery, and the *_latest views keep the newest row per
// key. InsertModelUsage is optional (modelUsageSink).
type Analytics interface {
	InsertRuns(ctx context.Context, rows []analytics.RunRow) error
	InsertEpochs(ctx context.Context, rows []analytics.EpochRow) error
	InsertPrompts(ctx context.Context, rows []analytics.PromptRow) error
	InsertResults(ctx context.Context, rows []analytics.ResultRow) error
}

// Faults fails an invocation at a named point after part of its effects
// (shared/fault, chaos tests of the local cloud).
type Faults interface {
	Inject(ctx context.Context, point, key string) error
}

// Deps are what a pipeline is built on. Store is the Firestore store
// itself, not an interface: it is the state machine's own persistence,
// tested against the emulator, never swapped.
type Deps struct {
	Store  *store.Store
	Blob   Blob
	Queue  Queue
	Models Models
	// Embedder is the embedding model of the semantic_similarity metric
	// (nil: none). Its calls go through the llm middleware — limiter,
	// retries, response cache and the batch's meter — behind an in-memory
	// cache shared by every run of the instance.
	Embedder llm.EmbedModel
	// Cache is the LLM response cache shared by every run (the artifacts
	// bucket's cache/ prefix in the cloud); nil disables caching whatever
	// the run's `cache` says.
	Cache llm.Cache
	// Analytics, when set, receives the BigQuery rows.
	Analytics Analytics
	// Faults, when set, fails invocations at fault points (chaos tests
	// only; nil in production).
	Faults Faults
}

// Config is a pipeline's settings. Zero values take the defaults of
// WithDefaults; New validates the result.
type Config struct {
	// DatasetsBucket receives the users' CSVs (and sidecar configs).
	DatasetsBucket string
	// ArtifactsBucket receives shards, results and exports.
	ArtifactsBucket string
	// Defaults is the deployment's config layer, applied over the embedded
	// defaults and under the sidecar and the request (e.g. Vertex AI models
	// in the cloud). Empty means none.
	Defaults []byte
	// EmbeddingModel names Deps.Embedder: provider and name (the meter's
	// "provider/name" key and the run's price table entry) and its limiter
	// settings.
	EmbeddingModel config.Model
	// Allowlist is the deployment's choice of providers and openai
	// endpoints: a run config outside it fails at the intake (zero: all
	// allowed, the local cloud).
	Allowlist config.Allowlist
	// Lease is how long an aggregator may hold a phase or a stage
	// transition before another delivery takes over (default 10 minutes,
	// the function timeout).
	Lease time.Duration
	// LLMRetries is how many times a transient model error is retried
	// within one invocation before the batch fails so Pub/Sub redelivers it
	// (default 3).
	LLMRetries int
	// RetryBase is the first backoff of those retries (default 500ms).
	RetryBase time.Duration
	// BatchTimeout, when set, bounds the model calls of one batch (retries
	// included): a Retry-After that would outlast it is not waited for,
	// and the batch fails in time for Pub/Sub to redeliver it.
	BatchTimeout time.Duration
}

// WithDefaults returns c with every unset field at its default: the one
// place the pipeline's defaults live.
func (c Config) WithDefaults() Config {
	if c.Lease <= 0 {
		c.Lease = 10 * time.Minute
	}
	if c.LLMRetries <= 0 {
		c.LLMRetries = 3
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 500 * time.Millisecond
	}
	if c.EmbeddingModel.Name == "" {
		// Unnamed: still metered under a key of its own.
		c.EmbeddingModel.Provider, c.EmbeddingModel.Name = "embedding", "default"
	}
	return c
}

func (c Config) validate() error {
	var bad []error
	if c.DatasetsBucket == "" {
		bad = append(bad, errors.New("DatasetsBucket is required"))
	}
	if c.ArtifactsBucket == "" {
		bad = append(bad, errors.New("ArtifactsBucket is required"))
	}
	if c.DatasetsBucket != "" && c.DatasetsBucket == c.ArtifactsBucket {
		bad = append(bad, errors.New("DatasetsBucket and ArtifactsBucket must differ, or writing artifacts would start runs"))
	}
	if len(c.Defaults) > 0 {
		if _, err := config.Load(config.Layer{Source: "deployment defaults", Data: c.Defaults}); err != nil {
			bad = append(bad, fmt.Errorf("Defaults: %w", err))
		}
	}
	return errors.Join(bad...)
}

func (d Deps) validate() error {
	var bad []error
	for _, r := range []struct {
		name string
		nil  bool
	}{{"Store", d.Store == nil}, {"Blob", d.Blob == nil}, {"Queue", d.Queue == nil}, {"Models", d.Models == nil}} {
		if r.nil {
			bad = append(bad, fmt.Errorf("%s is required", r.name))
		}
	}
	return errors.Join(bad...)
}

// Pipeline holds what the functions share. Build it with New.
type Pipeline struct {
	store     *store.Store
	blob      Blob
	queue     Queue
	models    Models
	embedder  llm.EmbedModel
	cache     llm.Cache
	analytics Analytics
	faults    Faults
	cfg       Config

	// limiters pace each model's calls on this instance.
	limiters llm.Limiters
	// flights marks the instance's model calls in flight by cache key.
	flights llm.Flights
	// embedOnce builds embedMemo, the instance's in-memory embeddings.
	embedOnce sync.Once
	embedMemo *eval.CachedEmbedder
}

// New returns a pipeline on deps with cfg's settings (defaults filled in),
// or an error naming every missing dependency and bad setting: an instance
// that cannot work fails at cold start, not at its first event.
func New(deps Deps, cfg Config) (*Pipeline, error) {
	cfg = cfg.WithDefaults()
	if err := errors.Join(deps.validate(), cfg.validate()); err != nil {
		return nil, fmt.Errorf("pipeline.New: %w", err)
	}
	return &Pipeline{store: deps.Store, blob: deps.Blob, queue: deps.Queue, models: deps.Models, embedder: deps.Embedder,
		cache: deps.Cache, analytics: deps.Analytics, faults: deps.Faults, cfg: cfg}, nil
}

// DatasetsBucket is the bucket users' CSVs are read from.
func (p *Pipeline) DatasetsBucket() string { return p.cfg.DatasetsBucket }

// ErrBusy means another delivery holds the lease of the phase or stage this
// one would work on. It is transient on purpose: if the holder finishes, the
// redelivery is a no-op; if it crashed, the redelivery takes over once the
// lease expires. Acking instead would lose the work of a crashed holder.
var ErrBusy = errs.New(errs.Busy, "another delivery holds the lease; retry later")

// NewRunID returns an unguessable run id (128 random bits).
func NewRunID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// PromptID is the content hash of a prompt: the same prompt always has the
// same id, so a prompt scored once on a split is never paid for twice. The
// user template counts only when it is not the default ("" or
// {{user_input}}), so a prompt over the default layout keeps the id it had
// before templates.
func PromptID(system, user, output string, demos []store.Demo) string {
	h := sha256.New()
	for _, s := range []string{system, output} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	if user != "" && user != config.DefaultUserTemplate {
		fmt.Fprintf(h, "user%d:%s", len(user), user)
	}
	for _, d := range demos {
		fmt.Fprintf(h, "%d:%s%d:%s", len(d.Input), d.Input, len(d.Output), d.Output)
	}
	return "p" + hex.EncodeToString(h.Sum(nil))[:12]
}

// PhaseID names the phase that scores a prompt on a split. It does not
// depend on the epoch, so the same prompt on the same split is one phase.
func PhaseID(split, promptID string) string { return split + "-" + promptID }

// runConfig decodes the run's stored configuration.
func runConfig(r *store.Run) (config.Run, error) {
	cfg, err := config.FromMap(r.Config)
	if err != nil {
		return config.Run{}, errs.Wrap(errs.Internal, err, fmt.Sprintf("run %s has an unreadable config", r.ID))
	}
	return cfg, nil
}
