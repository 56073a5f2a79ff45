package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/llm/vertex"
)

// letterVector is the fake model's embedding: counts of a..z, and of every
// other non-space code point in one of 26 buckets beyond those.
func letterVector(s string) []float32 {
	v := make([]float32, 52)
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z':
			v[r-'a']++
		case r > 0x7f:
			v[26+int(r)%26]++
		}
	}
	return v
}

// fakeVertexEmbeddings serves the Vertex AI :predict call of a
// text-embedding model and records the texts it was asked to embed.
type fakeVertexEmbeddings struct {
	mu    sync.Mutex
	texts []string
	paths []string
	fail  bool
}

func (f *fakeVertexEmbeddings) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Instances []struct {
			Content  string `json:"content"`
			TaskType string `json:"task_type"`
		} `json:"instances"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.paths = append(f.paths, r.URL.Path)
	for _, in := range body.Instances {
		f.texts = append(f.texts, in.Content+"|"+in.TaskType)
	}
	fail := f.fail
	f.mu.Unlock()
	if fail {
		http.Error(w, `{"error":{"code":503,"message":"unavailable","status":"UNAVAILABLE"}}`, http.StatusServiceUnavailable)
		return
	}
	type stats struct {
		TokenCount int `json:"token_count"`
	}
	type emb struct {
		Values     []float32 `json:"values"`
		Statistics stats     `json:"statistics"`
	}
	type pred struct {
		Embeddings emb `json:"embeddings"`
	}
	var out struct {
		Predictions []pred `json:"predictions"`
	}
	for _, in := range body.Instances {
		// Vertex AI reports the tokens of each text; the fake counts words.
		out.Predictions = append(out.Predictions, pred{Embeddings: emb{Values: letterVector(in.Content),
			Statistics: stats{TokenCount: len(strings.Fields(in.Content))}}})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// newFakeEmbedder is the Vertex AI embedder (shared/llm/vertex) in front
// of the fake endpoint.
func newFakeEmbedder(t *testing.T) (*vertex.Embedder, *fakeVertexEmbeddings) {
	t.Helper()
	// Never let a Google client library probe the metadata server.
	t.Setenv("GCE_METADATA_HOST", "127.0.0.1:1")
	fake := &fakeVertexEmbeddings{}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	emb, err := vertex.NewEmbedder(t.Context(), vertex.Options{
		Project:    "test-project",
		Location:   "us-central1",
		Model:      "text-embedding-005",
		HTTPClient: srv.Client(),
		BaseURL:    srv.URL,
	})
	if err != nil {
		t.Fatalf("vertex.NewEmbedder: %v", err)
	}
	return emb, fake
}

func TestSemanticSimilarity(t *testing.T) {
	emb, fake := newFakeEmbedder(t)
	tests := []struct {
		name       string
		options    map[string]any
		prediction string
		reference  string
		want       float64
	}{
		{name: "same letters", prediction: "listen", reference: "silent", want: 1},
		{name: "orthogonal", prediction: "abc", reference: "xyz", want: 0},
		// (2,1)·(1,1) / (√5·√2) = 3/√10.
		{name: "partial", prediction: "aab", reference: "ab", want: 3 / math.Sqrt(10)},
		{name: "linear rescale orthogonal", options: map[string]any{"rescale": "linear"}, prediction: "abc", reference: "xyz", want: 0.5},
		{name: "unicode identical", prediction: "東京タワー", reference: "東京タワー", want: 1},
		{name: "both empty", prediction: "", reference: "", want: 1},
		{name: "one empty", prediction: "", reference: "abc", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Build([]Spec{{Name: "semantic_similarity", Options: tt.options}}, Deps{Embedder: emb})
			if err != nil {
				t.Fatal(err)
			}
			s, err := m.Score(t.Context(), tt.prediction, tt.reference)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(s.Value-tt.want) > 1e-6 {
				t.Errorf("Score = %v, want %v", s.Value, tt.want)
			}
		})
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.paths) == 0 || !strings.HasSuffix(fake.paths[0], "/projects/test-project/locations/us-central1/publishers/google/models/text-embedding-005:predict") {
		t.Errorf("request paths = %q, want the Vertex AI predict endpoint", fake.paths)
	}
	if !strings.HasSuffix(fake.texts[0], "|SEMANTIC_SIMILARITY") {
		t.Errorf("instance = %q, want task type SEMANTIC_SIMILARITY", fake.texts[0])
	}
}

func TestSemanticSimilarityEmbedsEachTextOnce(t *testing.T) {
	emb, fake := newFakeEmbedder(t)
	cache := NewCachedEmbedder(emb, 100)
	// Two Builds sharing one run-wide cache, as the pipeline does per batch.
	for range 2 {
		m, err := Build([]Spec{{Name: "semantic_similarity"}}, Deps{Embedder: cache})
		if err != nil {
			t.Fatal(err)
		}
		for _, pred := range []string{"paris", "lyon", "paris"} {
			if _, err := m.Score(t.Context(), pred, "paris france"); err != nil {
				t.Fatal(err)
			}
		}
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.texts) != 3 || cache.Calls() != 3 {
		t.Errorf("embedded %d texts (%q), cache calls %d; want 3: each distinct text once", len(fake.texts), fake.texts, cache.Calls())
	}
}

// TestVertexEmbedderUsage: EmbedText returns the token count Vertex AI
// reports, and sends the request's task type and dimensions.
func TestVertexEmbedderUsage(t *testing.T) {
	emb, fake := newFakeEmbedder(t)
	got, err := emb.EmbedText(t.Context(), &llm.EmbedRequest{Text: "three short words", TaskType: "RETRIEVAL_QUERY", Dimensions: 52})
	if err != nil {
		t.Fatal(err)
	}
	if got.Usage.InputTokens != 3 || got.Usage.TotalTokens != 3 || len(got.Values) != 52 {
		t.Errorf("usage %+v, %d values; want 3 input tokens, 52 values", got.Usage, len(got.Values))
	}
	if len(fake.texts) != 1 || fake.texts[0] != "three short words|RETRIEVAL_QUERY" {
		t.Errorf("sent %q, want the text with task type RETRIEVAL_QUERY", fake.texts)
	}
}

func TestSemanticSimilarityErrors(t *testing.T) {
	emb, fake := newFakeEmbedder(t)
	fake.fail = true
	m, err := Build([]Spec{{Name: "semantic_similarity"}}, Deps{Embedder: emb})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Score(t.Context(), "a", "b"); err == nil {
		t.Error("Score with a failing embedder succeeded, want an error (errors are not scores)")
	}
	m, err = Build([]Spec{{Name: "semantic_similarity"}}, Deps{})
	if err != nil {
		t.Fatalf("Build without an embedder must succeed (config validation): %v", err)
	}
	_, err = m.Score(t.Context(), "a", "b")
	if err == nil || !strings.Contains(err.Error(), "no embedder") {
		t.Errorf("Score without an embedder: err = %v, want a clear error", err)
	}
}

func TestCosineDegenerate(t *testing.T) {
	tests := []struct {
		name string
		a, b []float32
	}{
		{"zero vector", []float32{0, 0}, []float32{1, 0}},
		{"different lengths", []float32{1}, []float32{1, 0}},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := cosine(tt.a, tt.b); err == nil {
				t.Error("cosine succeeded, want an error")
			}
		})
	}
}

type countingEmbedder struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([][]float32, len(texts))
	for i, t := range texts {
		c.calls[t]++
		out[i] = letterVector(t)
	}
	return out, nil
}

func TestCachedEmbedderConcurrent(t *testing.T) {
	next := &countingEmbedder{calls: map[string]int{}}
	cache := NewCachedEmbedder(next, 100)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if _, err := cache.Embed(t.Context(), []string{"shared", fmt.Sprint("own", i%5)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for text, n := range next.calls {
		if n != 1 {
			t.Errorf("%q embedded %d times, want once", text, n)
		}
	}
	if len(next.calls) != 6 {
		t.Errorf("embedded %d distinct texts, want 6", len(next.calls))
	}
}

func TestCachedEmbedderBounded(t *testing.T) {
	next := &countingEmbedder{calls: map[string]int{}}
	cache := NewCachedEmbedder(next, 2)
	for _, s := range []string{"a", "b", "c", "a"} {
		if _, err := cache.Embed(t.Context(), []string{s}); err != nil {
			t.Fatal(err)
		}
	}
	cache.mu.Lock()
	size := len(cache.cache)
	cache.mu.Unlock()
	if size > 2 {
		t.Errorf("cache holds %d entries, want at most 2", size)
	}
}

// TestCachedEmbedderVia: views share one cache; a miss goes to the view's
// own embedder (each batch's metered client), a hit to none.
func TestCachedEmbedderVia(t *testing.T) {
	root := NewCachedEmbedder(nil, 100)
	a := &countingEmbedder{calls: map[string]int{}}
	b := &countingEmbedder{calls: map[string]int{}}
	if _, err := root.Via(a).Embed(t.Context(), []string{"x", "y"}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Via(b).Embed(t.Context(), []string{"x", "z"}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]int{"x": 1, "y": 1}, a.calls); d != "" {
		t.Errorf("first view's embedder (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]int{"z": 1}, b.calls); d != "" {
		t.Errorf("second view's embedder: only the miss (-want +got):\n%s", d)
	}
	if root.Calls() != 3 {
		t.Errorf("cache calls %d, want 3", root.Calls())
	}
}
