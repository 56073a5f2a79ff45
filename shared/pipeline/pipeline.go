// Package pipeline is the training loop: the start of a run (intake and
// split), the scoring of one batch, and the aggregator's state machine
// (baseline → epochs of optimizer, candidates and gate → test → export).
// The functions under functions/ decode their trigger and call it.
package pipeline

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/promptml/promptml/shared/blob"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/fault"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/logging"
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

// publisher publishes the pipeline's messages.
type publisher interface {
	PublishBatches(ctx context.Context, msgs []queue.BatchMessage) error
	PublishPhaseDone(ctx context.Context, m queue.PhaseDoneMessage) error
}

// Pipeline holds what the functions share.
type Pipeline struct {
	Store  *store.Store
	Blob   *blob.Store
	Queue  publisher
	Models Models
	// Defaults is the deployment's config layer, applied over the embedded
	// defaults and under the sidecar and the request (e.g. Vertex AI models
	// in the cloud). Empty means none.
	Defaults []byte
	// Embedder is the embedding model of the semantic_similarity metric
	// (nil: none). Its calls go through llm.EmbedClient — the limiter,
	// retries, response cache and the batch's meter — behind an in-memory
	// cache shared by every run of the instance, so each text is embedded
	// once per instance.
	Embedder llm.EmbedModel
	// EmbeddingModel names the Embedder: provider and name (the meter's
	// "provider/name" key and the run's price table entry) and its
	// limiter settings (requests_per_minute, tokens_per_minute,
	// max_concurrency).
	EmbeddingModel config.Model
	// Allowlist is the deployment's choice of providers and openai
	// endpoints: a run config outside it fails at the intake (zero: all
	// allowed, the local cloud).
	Allowlist config.Allowlist
	// Analytics, when set, receives the BigQuery rows (runs, epochs,
	// prompt versions, per-example results).
	Analytics analyticsSink
	// DatasetsBucket receives the users' CSVs (and sidecar configs).
	DatasetsBucket string
	// ArtifactsBucket receives shards, results and exports.
	ArtifactsBucket string
	// Lease is how long an aggregator may hold a phase or a stage
	// transition before another delivery takes over (default 10 minutes,
	// the function timeout).
	Lease time.Duration
	// LLMRetries is how many times a transient model error is retried
	// within one invocation before the batch returns an error so Pub/Sub
	// redelivers it (default 3).
	LLMRetries int
	// RetryBase is the first backoff of those retries (default 500ms).
	RetryBase time.Duration
	// BatchTimeout, when set, bounds the model calls of one batch (retries
	// included): a Retry-After that would outlast it is not waited for,
	// and the batch fails in time for Pub/Sub to redeliver it.
	BatchTimeout time.Duration
	// Cache is the LLM response cache shared by every run (the artifacts
	// bucket's cache/ prefix in the cloud); nil disables caching whatever
	// the run's `cache` says.
	Cache llm.Cache
	// Faults, when set, fails invocations at fault points after part of
	// their effects (chaos tests only; fault.go). Nil in production.
	Faults faultInjector

	// limiters pace each model's calls on this instance.
	limiters llm.Limiters
	// embedOnce builds embedMemo, the instance's in-memory embeddings.
	embedOnce sync.Once
	embedMemo *eval.CachedEmbedder
}

func (p *Pipeline) lease() time.Duration {
	if p.Lease > 0 {
		return p.Lease
	}
	return 10 * time.Minute
}

// PermanentError marks a failure that retrying cannot fix: the handler
// records it and acks the message.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// ErrBusy means another delivery holds the lease of the phase or stage this
// one would work on. It is transient on purpose: if the holder finishes, the
// redelivery is a no-op; if it crashed, the redelivery takes over once the
// lease expires. Acking instead would lose the work of a crashed holder.
var ErrBusy = errors.New("another delivery holds the lease; retry later")

// IsPermanent reports whether err should not be retried.
func IsPermanent(err error) bool {
	var pe *PermanentError
	return errors.As(err, &pe) || errors.Is(err, queue.ErrBadMessage) || errors.Is(err, store.ErrNotFound)
}

// NewRunID returns an unguessable run id (128 random bits).
func NewRunID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// PromptID is the content hash of a prompt: the same prompt always has the
// same id, so a prompt scored once on a split is never paid for twice.
func PromptID(system, output string, demos []store.Demo) string {
	h := sha256.New()
	for _, s := range []string{system, output} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	for _, d := range demos {
		fmt.Fprintf(h, "%d:%s%d:%s", len(d.Input), d.Input, len(d.Output), d.Output)
	}
	return "p" + hex.EncodeToString(h.Sum(nil))[:12]
}

// PhaseID names the phase that scores a prompt on a split. It does not
// depend on the epoch, so the same prompt on the same split is one phase.
func PhaseID(split, promptID string) string { return split + "-" + promptID }

// event writes a line of the run's log; a failure to log never fails the
// step.
func (p *Pipeline) event(ctx context.Context, run, key string, e store.Event) {
	if err := p.Store.AddEvent(ctx, run, key, e); err != nil {
		logging.FromContext(ctx).Warn("event not written", "run_id", run, "error", err.Error())
	}
}

// runConfig decodes the run's stored configuration.
func runConfig(r *store.Run) (config.Run, error) {
	cfg, err := config.FromMap(r.Config)
	if err != nil {
		return config.Run{}, &PermanentError{Err: fmt.Errorf("run %s has an unreadable config: %w", r.ID, err)}
	}
	return cfg, nil
}

// fail ends a run as failed with e.
func (p *Pipeline) fail(ctx context.Context, runID string, e store.RunError) error {
	_, err := p.Store.UpdateRun(ctx, runID, func(r *store.Run) error {
		if r.Terminal() {
			return store.ErrSkip
		}
		e.Stage = r.Stage
		r.Status = store.StatusFailed
		r.Error = &e
		r.Lease = nil
		r.FinishedAt = time.Now()
		return nil
	})
	if err != nil {
		return fmt.Errorf("pipeline.fail: %w", err)
	}
	p.event(ctx, runID, "failed", store.Event{Kind: "failed", Message: "Run failed: " + e.Message})
	if r, err := p.Store.GetRun(ctx, runID); err == nil {
		p.reportRun(ctx, r)
	}
	logging.FromContext(ctx).Error("run failed", "error", e.Message)
	return nil
}

// failOnPermanent records a permanent error of a step on its run, so the
// run ends failed instead of waiting forever for a message that was acked.
// It returns err (or, if recording failed, that failure, so the message is
// retried).
func (p *Pipeline) failOnPermanent(ctx context.Context, runID string, err error) error {
	if err == nil || !IsPermanent(err) || errors.Is(err, queue.ErrBadMessage) {
		return err
	}
	if ferr := p.fail(ctx, runID, store.RunError{Message: err.Error()}); ferr != nil && !errors.Is(ferr, store.ErrNotFound) {
		return ferr
	}
	return err
}

// Cancel stops a run: no new fan-out happens, in-flight batches are dropped
// when they start, and the history is kept.
func (p *Pipeline) Cancel(ctx context.Context, runID string) (*store.Run, error) {
	r, err := p.Store.UpdateRun(ctx, runID, func(r *store.Run) error {
		if r.Terminal() {
			return store.ErrSkip
		}
		r.Status = store.StatusCancelled
		r.Lease = nil
		r.FinishedAt = time.Now()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pipeline.Cancel: %w", err)
	}
	if r.Status == store.StatusCancelled {
		p.event(ctx, runID, "cancelled", store.Event{Kind: "cancelled", Message: "Run cancelled."})
		p.reportRun(ctx, r)
	}
	return r, nil
}

// fanOut publishes the work of the run's current stage: the not-done
// batches of each pending phase, and a phase-done for each pending phase
// already complete (a reused phase). It then records the stage as
// published, so only a crash between commit and publish republishes.
func (p *Pipeline) fanOut(ctx context.Context, r *store.Run) error {
	var msgs []queue.BatchMessage
	for _, id := range r.Pending {
		ph, err := p.Store.GetPhase(ctx, r.ID, id)
		if err != nil {
			return fmt.Errorf("pipeline.fanOut: %w", err)
		}
		if ph.State != store.PhasePending {
			if err := p.Queue.PublishPhaseDone(ctx, queue.PhaseDoneMessage{RunID: r.ID, PhaseID: id}); err != nil {
				return fmt.Errorf("pipeline.fanOut: %w", err)
			}
			continue
		}
		done, err := p.Store.ListBatches(ctx, r.ID, id)
		if err != nil {
			return fmt.Errorf("pipeline.fanOut: %w", err)
		}
		isDone := make(map[int]bool, len(done))
		for _, b := range done {
			isDone[b.N] = true
		}
		for n := 0; n < ph.TotalBatches; n++ {
			if !isDone[n] {
				msgs = append(msgs, queue.BatchMessage{RunID: r.ID, PhaseID: id, Batch: n})
			}
		}
		if len(isDone) >= ph.TotalBatches {
			// Every batch finished but the phase was never flipped (a
			// crash after the last batch's write): do the fan-in now.
			if _, err := p.Store.CheckPhaseComplete(ctx, r.ID, id); err != nil {
				return fmt.Errorf("pipeline.fanOut: %w", err)
			}
			if err := p.Queue.PublishPhaseDone(ctx, queue.PhaseDoneMessage{RunID: r.ID, PhaseID: id}); err != nil {
				return fmt.Errorf("pipeline.fanOut: %w", err)
			}
		}
	}
	if len(msgs) > 0 {
		if err := p.Queue.PublishBatches(ctx, msgs); err != nil {
			return fmt.Errorf("pipeline.fanOut: %w", err)
		}
	}
	if err := p.fault(ctx, fault.AggregateMidFanOut, stageKey(r.ID, r.StageSeq)); err != nil {
		return err
	}
	return p.Store.SetPublished(ctx, r.ID, r.StageSeq)
}
