// Package serverenv is a function instance: its configuration (config.go:
// one table of PROMPTML_* settings, parsed and validated once, every bad
// value named) and the clients every function shares, built once from it
// (New: Firestore, Pub/Sub, Storage, BigQuery, the pipeline; models.go:
// the models through the provider registry, the embedder), and closed.
package serverenv

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/storage"

	"github.com/promptml/promptml/shared/analytics"
	"github.com/promptml/promptml/shared/blob"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/llm/provider"
	"github.com/promptml/promptml/shared/llm/vertex"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/queue"
	"github.com/promptml/promptml/shared/store"
)

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
	allow config.Allowlist
	// models are the providers' models, built on first use (models.go).
	modelsOnce sync.Once
	models     *provider.Set
}

// New builds every client. The emulator variables (FIRESTORE_EMULATOR_HOST,
// PUBSUB_EMULATOR_HOST, STORAGE_EMULATOR_HOST) point them at the local
// cloud.
func New(ctx context.Context, c Config) (*Env, error) {
	e := &Env{Config: c}
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
		EmbeddingModel: config.Model{Provider: vertex.Name, Name: c.EmbeddingModel,
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
