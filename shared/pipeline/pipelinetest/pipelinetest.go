// Package pipelinetest builds a whole pipeline in-process for tests: the
// Firestore emulator (a project of its own per test), an in-memory Cloud
// Storage, a queue whose messages the test delivers, and the simulator.
package pipelinetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/promptml/promptml/shared/blob"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/llm/sim"
	// Run configs may name every provider the functions offer (they
	// register themselves); SimModels builds only the simulator.
	_ "github.com/promptml/promptml/shared/llm/openai"
	_ "github.com/promptml/promptml/shared/llm/vertex"
	"github.com/promptml/promptml/shared/localcloud"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/queue"
	"github.com/promptml/promptml/shared/store"
)

// Bucket names of the test pipeline.
const (
	Datasets  = "datasets"
	Artifacts = "artifacts"
)

// Queue records published messages; the test delivers them.
type Queue struct {
	mu      sync.Mutex
	batches []queue.BatchMessage
	done    []queue.PhaseDoneMessage
}

// PublishBatches records msgs.
func (q *Queue) PublishBatches(_ context.Context, msgs []queue.BatchMessage) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.batches = append(q.batches, msgs...)
	return nil
}

// PublishPhaseDone records m.
func (q *Queue) PublishPhaseDone(_ context.Context, m queue.PhaseDoneMessage) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.done = append(q.done, m)
	return nil
}

// Take returns and forgets the messages published so far.
func (q *Queue) Take() ([]queue.BatchMessage, []queue.PhaseDoneMessage) {
	q.mu.Lock()
	defer q.mu.Unlock()
	b, d := q.batches, q.done
	q.batches, q.done = nil, nil
	return b, d
}

// SimModels serves the simulator for its provider (sim.Name); any other
// provider is unavailable, as one the deployment cannot build would be.
type SimModels struct{ M *sim.Model }

// Model implements pipeline.Models.
func (s SimModels) Model(_ context.Context, m config.Model) (pipeline.Generator, error) {
	if m.Provider != sim.Name {
		return nil, fmt.Errorf("provider %q is not available here", m.Provider)
	}
	return s.M, nil
}

// Served counts what the models answered, at the model: every reply
// returned without an error is a call a provider would have charged, with
// its tokens. Tests compare a run's spend with it, not with the pipeline's
// own records, which would agree with themselves whatever they missed.
type Served struct {
	mu    sync.Mutex
	usage llm.Usage
	calls int
}

// Wrap returns m with every model it builds counted into s.
func (s *Served) Wrap(m pipeline.Models) pipeline.Models { return servedModels{m, s} }

// Calls returns the calls answered so far and their tokens.
func (s *Served) Calls() (int, llm.Usage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.usage
}

type servedModels struct {
	next pipeline.Models
	s    *Served
}

func (m servedModels) Model(ctx context.Context, c config.Model) (pipeline.Generator, error) {
	g, err := m.next.Model(ctx, c)
	if err != nil {
		return nil, err
	}
	return servedGenerator{g, m.s}, nil
}

type servedGenerator struct {
	next pipeline.Generator
	s    *Served
}

func (g servedGenerator) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	resp, err := g.next.Generate(ctx, req)
	if err == nil && resp != nil {
		g.s.mu.Lock()
		g.s.calls++
		g.s.usage.InputTokens += resp.Usage.InputTokens
		g.s.usage.OutputTokens += resp.Usage.OutputTokens
		g.s.mu.Unlock()
	}
	return resp, err
}

// Env is a test pipeline.
type Env struct {
	P   *pipeline.Pipeline
	Q   *Queue
	GCS *storage.Client
	// Store and Blob are the pipeline's own, for tests that read or write
	// documents and objects directly.
	Store *store.Store
	Blob  *blob.Store
	// Deps and Config are what P was built from; With rebuilds it.
	Deps   pipeline.Deps
	Config pipeline.Config
	// Served counts the calls P's models answered: With builds P on
	// Deps.Models wrapped by it, whatever models a test puts there.
	Served *Served
}

// With rebuilds P after change edits its dependencies and settings (a
// scripted model, a cache, analytics, faults).
func (e *Env) With(t *testing.T, change func(d *pipeline.Deps, c *pipeline.Config)) {
	t.Helper()
	change(&e.Deps, &e.Config)
	d := e.Deps
	d.Models = e.Served.Wrap(d.Models)
	p, err := pipeline.New(d, e.Config)
	if err != nil {
		t.Fatal(err)
	}
	e.P = p
}

// Models returns the models P was built with (before Served counts them).
func (e *Env) Models() pipeline.Models { return e.Deps.Models }

// New builds a pipeline whose simulator's answer key is keyCSV (a CSV with
// user_input and ground_truth_output columns; "" for none). It needs the
// emulators (localcloud.RunTests in TestMain) and skips under -short.
func New(t *testing.T, keyCSV string) *Env {
	t.Helper()
	localcloud.RequireEmulators(t)
	fs, err := firestore.NewClient(t.Context(), localcloud.ProjectID(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: Datasets})
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: Artifacts})
	key := map[string]string{}
	if keyCSV != "" {
		if key, err = sim.ParseCSV(strings.NewReader(keyCSV)); err != nil {
			t.Fatal(err)
		}
	}
	q := &Queue{}
	e := &Env{Q: q, GCS: srv.Client(), Store: store.New(fs), Blob: blob.New(srv.Client()), Served: &Served{},
		Config: pipeline.Config{DatasetsBucket: Datasets, ArtifactsBucket: Artifacts, LLMRetries: 1, RetryBase: 1}}
	e.Deps = pipeline.Deps{Store: e.Store, Blob: e.Blob, Queue: q,
		Models: SimModels{sim.New(sim.Options{Key: sim.NewKey(key), Seed: 1})}}
	e.With(t, func(*pipeline.Deps, *pipeline.Config) {})
	return e
}

// Upload writes an object to the datasets bucket and returns its upload.
func (e *Env) Upload(t *testing.T, name, data string) pipeline.Upload {
	t.Helper()
	w := e.GCS.Bucket(Datasets).Object(name).NewWriter(t.Context())
	if _, err := w.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return pipeline.Upload{Bucket: Datasets, Object: name, Generation: w.Attrs().Generation}
}

// Drain delivers every published message until none is left, in rounds
// (all batches at once, then all phase-done messages at once), as Pub/Sub
// push would: a delivery that fails with a transient error (ErrBusy
// included) is delivered again in the next round; a permanent one is acked,
// as the functions' handler does. With dup, each message is delivered twice,
// both deliveries at once. It returns the number of redeliveries.
func (e *Env) Drain(t *testing.T, dup bool) int {
	t.Helper()
	ctx := t.Context()
	copies := 1
	if dup {
		copies = 2
	}
	redelivered := 0
	for round := range 10000 {
		bs, ds := e.Q.Take()
		if len(bs) == 0 && len(ds) == 0 {
			return redelivered
		}
		// One flag per message, not per copy: when both copies of a
		// duplicated delivery fail, Pub/Sub still redelivers the message
		// once.
		failedB := make([]atomic.Bool, len(bs))
		failedD := make([]atomic.Bool, len(ds))
		var wg sync.WaitGroup
		for i, b := range bs {
			for range copies {
				wg.Go(func() {
					if err := e.P.RunBatch(ctx, b); err != nil && errs.Retryable(err) {
						failedB[i].Store(true)
					}
				})
			}
		}
		wg.Wait()
		for i, d := range ds {
			for c := range copies {
				wg.Go(func() {
					holder := fmt.Sprintf("msg-%s-%d-%d-%d", d.PhaseID, round, i, c)
					if err := e.P.Aggregate(ctx, d, holder); err != nil && errs.Retryable(err) {
						failedD[i].Store(true)
					}
				})
			}
		}
		wg.Wait()
		var retryB []queue.BatchMessage
		var retryD []queue.PhaseDoneMessage
		for i := range bs {
			if failedB[i].Load() {
				retryB = append(retryB, bs[i])
			}
		}
		for i := range ds {
			if failedD[i].Load() {
				retryD = append(retryD, ds[i])
			}
		}
		redelivered += len(retryB) + len(retryD)
		if len(retryB) > 0 {
			_ = e.Q.PublishBatches(ctx, retryB)
		}
		for _, d := range retryD {
			_ = e.Q.PublishPhaseDone(ctx, d)
		}
	}
	t.Fatal("messages never drained")
	return redelivered
}
