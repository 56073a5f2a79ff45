package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/promptml/promptml/shared/analytics"
	"github.com/promptml/promptml/shared/blob"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/pipeline/pipelinetest"
	"github.com/promptml/promptml/shared/store"
)

// fakeEmbedder embeds a text as its letter counts and reports one input
// token per word. With flaky, the first attempt at each text fails with a
// 429: every text needs a retry.
type fakeEmbedder struct {
	flaky bool
	mu    sync.Mutex
	tried map[string]bool
	calls int // successful calls
	fails int
}

func (f *fakeEmbedder) EmbedText(_ context.Context, req *llm.EmbedRequest) (*llm.Embedding, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tried == nil {
		f.tried = map[string]bool{}
	}
	if f.flaky && !f.tried[req.Text] {
		f.tried[req.Text] = true
		f.fails++
		return nil, llm.StatusError(429, 0, errors.New("embedding quota"))
	}
	f.calls++
	v := make([]float32, 27)
	v[26] = 1
	for _, r := range strings.ToLower(req.Text) {
		if r >= 'a' && r <= 'z' {
			v[r-'a']++
		}
	}
	n := len(strings.FieldsFunc(req.Text, unicode.IsSpace))
	return &llm.Embedding{Values: v, Usage: llm.Usage{InputTokens: n, TotalTokens: n}}, nil
}

func (f *fakeEmbedder) take() (calls, fails int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls, fails = f.calls, f.fails
	f.calls, f.fails = 0, 0
	return calls, fails
}

const embedKey = "fake/fake-embed"

// usageAnalytics also records the model_usage rows.
type usageAnalytics struct {
	fakeAnalytics
	usage []analytics.ModelUsageRow
}

func (f *usageAnalytics) InsertModelUsage(_ context.Context, rows []analytics.ModelUsageRow) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.usage = append(f.usage, rows...)
	return nil
}

// TestEmbeddingsMetered: a run scored with semantic_similarity counts its
// embedding calls like model calls — tokens and cost on the batches,
// phases and run, by model, and in analytics — after retrying the embedder's 429s; another
// instance running the same config pays nothing for them (response cache
// hits).
func TestEmbeddingsMetered(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	e := pipelinetest.New(t, csv)
	emb := &fakeEmbedder{flaky: true}
	cache := &blob.Cache{Store: e.Blob, Bucket: pipelinetest.Artifacts}
	e.With(t, func(d *pipeline.Deps, c *pipeline.Config) {
		d.Embedder, c.EmbeddingModel, d.Cache = emb, config.Model{Provider: "fake", Name: "fake-embed"}, cache
	})
	fa := &usageAnalytics{}
	e.With(t, func(d *pipeline.Deps, c *pipeline.Config) { d.Analytics = fa })
	// A dollar per token, so cost = tokens.
	const cfg = "epochs: 1\nmetrics: [{name: semantic_similarity}]\nprices: {fake-embed: {input_per_mtok: 1000000}}\n"
	_ = e.Upload(t, "t.yaml", cfg)
	id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, "t.csv", csv))
	if err != nil {
		t.Fatal(err)
	}
	e.Drain(t, false)
	calls, fails := emb.take()
	r, err := e.Store.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusSucceeded {
		t.Fatalf("run %s: %+v", r.Status, r.Error)
	}
	if calls == 0 || fails != calls {
		t.Fatalf("embedder: %d calls, %d failures; want calls, each after one 429", calls, fails)
	}
	u := r.UsageByModel[embedKey]
	if u.Calls != calls || u.InputTokens == 0 || u.CostUSD != float64(u.InputTokens) || u.OutputTokens != 0 {
		t.Errorf("run usage of %s %+v: want %d calls (the paid ones, not the 429s), their tokens and a dollar a token", embedKey, u, calls)
	}
	var sum store.Usage
	for _, v := range r.UsageByModel {
		sum = sum.Add(v)
	}
	if r.Usage.Calls != sum.Calls || r.Usage.InputTokens != sum.InputTokens || r.Usage.CostUSD != sum.CostUSD {
		t.Errorf("run usage %+v is not the sum of its models %+v", r.Usage, sum)
	}
	phases, err := e.Store.ListPhases(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var byPhases, byBatches store.Usage
	for _, ph := range phases {
		byPhases = byPhases.Add(ph.UsageByModel[embedKey])
		batches, err := e.Store.ListBatches(t.Context(), id, ph.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range batches {
			byBatches = byBatches.Add(b.UsageByModel[embedKey])
		}
	}
	if byPhases.Calls != calls || byBatches.Calls != calls || byPhases.InputTokens != u.InputTokens {
		t.Errorf("embedding calls: %d on the phases, %d on the batches, want %d", byPhases.Calls, byBatches.Calls, calls)
	}

	var rows int64
	for _, row := range fa.usage {
		if row.Model == embedKey && row.Scope == "phase" && row.RunID == id {
			rows += row.Calls
		}
	}
	if rows != int64(calls) {
		t.Errorf("analytics model_usage: %d embedding calls, want %d", rows, calls)
	}

	// Another instance (a new pipeline: empty in-memory cache, own
	// limiters) shares the response cache: the same run pays no
	// embedding.
	e.With(t, func(d *pipeline.Deps, c *pipeline.Config) { d.Analytics = nil })
	id2, err := e.P.StartFromAPI(t.Context(), pipeline.StartRequest{Dataset: "gs://" + pipelinetest.Datasets + "/t.csv"})
	if err != nil {
		t.Fatal(err)
	}
	e.Drain(t, false)
	if calls, fails := emb.take(); calls != 0 || fails != 0 {
		t.Errorf("second instance: %d embedding calls (%d failed), want none", calls, fails)
	}
	r2, err := e.Store.GetRun(t.Context(), id2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u2 := r2.UsageByModel[embedKey]; u2.Calls != 0 || u2.CostUSD != 0 || u2.CacheHits != u.Calls+u.CacheHits {
		t.Errorf("second run usage of %s %+v: want no paid call and %d cache hits", embedKey, u2, u.Calls+u.CacheHits)
	}
	if r2.BestVal != r.BestVal {
		t.Errorf("second run best val %v, first %v", r2.BestVal, r.BestVal)
	}
}

// TestEmbeddingsCountInBudget: with a free primary and optimizer (the
// simulator), only the embeddings of semantic_similarity cost anything; a
// budget below their estimate stops the run before its baseline.
func TestEmbeddingsCountInBudget(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	e := pipelinetest.New(t, csv)
	emb := &fakeEmbedder{}
	e.With(t, func(d *pipeline.Deps, c *pipeline.Config) {
		d.Embedder, c.EmbeddingModel = emb, config.Model{Provider: "fake", Name: "fake-embed"}
	})
	const cfg = "epochs: 1\nmetrics: [{name: semantic_similarity}]\nprices: {fake-embed: {input_per_mtok: 1000000}}\n"
	_ = e.Upload(t, "t.yaml", cfg)
	u := e.Upload(t, "t.csv", csv)
	est, err := e.P.DryRun(t.Context(), pipeline.StartRequest{Dataset: "gs://" + pipelinetest.Datasets + "/t.csv"})
	if err != nil {
		t.Fatal(err)
	}
	if est.CostUSD < 2 {
		t.Fatalf("estimate $%v: want the embeddings priced (a dollar a token)", est.CostUSD)
	}
	_ = e.Upload(t, "t.yaml", cfg+"budget: {max_usd: 1}\n")
	id, err := e.P.StartFromUpload(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	e.Drain(t, false)
	r, err := e.Store.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if calls, _ := emb.take(); r.Status != store.StatusBudgetExhausted || calls != 0 {
		t.Errorf("run %s after %d embedding calls: want budget_exhausted before any", r.Status, calls)
	}
}
