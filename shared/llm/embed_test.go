package llm

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// flakyEmbedder fails its first n calls with err, then embeds, reporting
// tokens input tokens (0: none reported).
type flakyEmbedder struct {
	mu     sync.Mutex
	n      int
	err    error
	tokens int
	calls  int
}

func (f *flakyEmbedder) EmbedText(_ context.Context, req *EmbedRequest) (*Embedding, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.n {
		return nil, f.err
	}
	return &Embedding{Values: []float32{float32(len(req.Text)), 1}, Usage: Usage{InputTokens: f.tokens, TotalTokens: f.tokens}}, nil
}

var approx = cmp.Comparer(func(a, b float64) bool { return a-b < 1e-12 && b-a < 1e-12 })

func TestEmbedClientRetriesAndMeters(t *testing.T) {
	rate429 := &Error{Kind: Transient, Code: 429, Reason: ReasonRateLimited, Err: errors.New("quota")}
	bad := &Error{Kind: Permanent, Code: 400, Reason: ReasonBadRequest, Err: errors.New("bad")}
	text := strings.Repeat("word ", 8) // 40 characters: estimate 10 tokens
	for _, tc := range []struct {
		name      string
		fails     int
		err       error
		tokens    int
		wantErr   bool
		wantCalls int
		want      Tally
	}{
		{"reported tokens", 0, nil, 7, false, 1, Tally{Calls: 1, InputTokens: 7, CostUSD: 7e-6}},
		{"no count reported: the estimate", 0, nil, 0, false, 1, Tally{Calls: 1, InputTokens: 10, CostUSD: 10e-6}},
		{"transient then success", 2, rate429, 7, false, 3, Tally{Calls: 1, InputTokens: 7, Retries: 2, CostUSD: 7e-6}},
		{"transient past the attempts", 9, rate429, 7, true, 4, Tally{Errors: 1, Retries: 4}},
		{"permanent is not retried", 1, bad, 7, true, 1, Tally{Errors: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &flakyEmbedder{n: tc.fails, err: tc.err, tokens: tc.tokens}
			m := &Meter{}
			c := &EmbedClient{Next: f, Key: "vertex/emb", Retry: Retry{Attempts: 4, Base: time.Microsecond}, Meter: m,
				Limiter: NewLimiter(Limits{}), Price: Price{InputPerMTok: 1, OutputPerMTok: 100}}
			vs, err := c.Embed(t.Context(), []string{text})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			var le *Error
			if err != nil && !errors.As(err, &le) {
				t.Errorf("error %v is not classified", err)
			}
			if err == nil && (len(vs) != 1 || len(vs[0]) != 2) {
				t.Errorf("vectors %v, want one of length 2", vs)
			}
			if f.calls != tc.wantCalls {
				t.Errorf("%d provider calls, want %d", f.calls, tc.wantCalls)
			}
			if d := cmp.Diff(tc.want, m.ByModel()["vertex/emb"], approx); d != "" {
				t.Errorf("tally (-want +got):\n%s", d)
			}
		})
	}
}

func TestEmbedClientLimiter(t *testing.T) {
	t.Run("requests per minute", func(t *testing.T) {
		// 600/min: a burst of 60 calls, then the next waits ~100ms.
		f := &flakyEmbedder{tokens: 1}
		c := &EmbedClient{Next: f, Key: "vertex/emb", Limiter: NewLimiter(Limits{RequestsPerMinute: 600})}
		for i := range 60 {
			if _, err := c.Embed(t.Context(), []string{"x"}); err != nil {
				t.Fatalf("call %d within the burst: %v", i, err)
			}
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		if _, err := c.Embed(ctx, []string{"x"}); err == nil {
			t.Error("the call after the burst did not wait for the request rate")
		}
		if f.calls != 60 {
			t.Errorf("%d provider calls, want 60 (the paced one never left)", f.calls)
		}
	})
	t.Run("tokens per minute, estimated", func(t *testing.T) {
		// 6000 tokens/min; the provider reports no count, so a text of
		// 20,000 characters reserves its estimate, 5000 tokens.
		f := &flakyEmbedder{}
		c := &EmbedClient{Next: f, Key: "vertex/emb", Limiter: NewLimiter(Limits{TokensPerMinute: 6000})}
		long := strings.Repeat("x", 20000)
		if _, err := c.Embed(t.Context(), []string{long}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		if _, err := c.Embed(ctx, []string{long + "y"}); err == nil {
			t.Error("the minute's tokens were spent, yet the call did not wait")
		}
	})
	t.Run("a 429 cuts concurrency", func(t *testing.T) {
		lim := NewLimiter(Limits{MaxConcurrency: 8})
		f := &flakyEmbedder{n: 1, err: &Error{Kind: Transient, Code: 429, Reason: ReasonRateLimited, Err: errors.New("quota")}}
		c := &EmbedClient{Next: f, Key: "vertex/emb", Limiter: lim, Retry: Retry{Base: time.Microsecond}}
		if _, err := c.Embed(t.Context(), []string{"x"}); err != nil {
			t.Fatal(err)
		}
		if got := lim.Concurrency(); got != 4 {
			t.Errorf("concurrency %d after a 429 and a success, want 4", got)
		}
	})
}

func TestEmbedClientCache(t *testing.T) {
	for _, tc := range []struct {
		mode          string
		wantProvider  int // calls reaching the provider over two clients
		wantSecondHit int
	}{
		{CacheReadWrite, 1, 1},
		{CacheRead, 2, 0},
		{CacheOff, 2, 0},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			cache := &memCache{}
			f := &flakyEmbedder{tokens: 3}
			var got [][]float32
			var second Tally
			for i := range 2 {
				// A new client each time (another batch, run or instance):
				// only the shared cache connects them.
				m := &Meter{}
				c := &EmbedClient{Next: f, Key: "vertex/emb", TaskType: "SEMANTIC_SIMILARITY", Cache: cache, CacheMode: tc.mode,
					Meter: m, Price: Price{InputPerMTok: 1}}
				vs, err := c.Embed(t.Context(), []string{"bonjour"})
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, vs[0])
				if i == 1 {
					second = m.Total()
				}
			}
			if f.calls != tc.wantProvider {
				t.Errorf("%d provider calls, want %d", f.calls, tc.wantProvider)
			}
			if d := cmp.Diff(got[0], got[1]); d != "" {
				t.Errorf("cached vector differs:\n%s", d)
			}
			want := Tally{Calls: 1, InputTokens: 3, CostUSD: 3e-6}
			if tc.wantSecondHit == 1 {
				want = Tally{CacheHits: 1} // not a paid call
			}
			if d := cmp.Diff(want, second, approx); d != "" {
				t.Errorf("second call's tally (-want +got):\n%s", d)
			}
		})
	}
}

func TestEmbedCacheKeyFields(t *testing.T) {
	base := EmbedRequest{Model: "text-embedding-005", TaskType: "SEMANTIC_SIMILARITY", Dimensions: 0, Text: "hello"}
	k0 := EmbedCacheKey("vertex/text-embedding-005", &base)
	if k := EmbedCacheKey("vertex/text-embedding-005", &base); k != k0 {
		t.Fatal("the same request has two keys")
	}
	for _, tc := range []struct {
		name     string
		provider string
		mod      func(r *EmbedRequest)
	}{
		{"provider", "openai/text-embedding-005", func(*EmbedRequest) {}},
		{"model", "", func(r *EmbedRequest) { r.Model = "gemini-embedding-001" }},
		{"task type", "", func(r *EmbedRequest) { r.TaskType = "RETRIEVAL_QUERY" }},
		{"dimensions", "", func(r *EmbedRequest) { r.Dimensions = 256 }},
		{"text", "", func(r *EmbedRequest) { r.Text = "hello!" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			tc.mod(&r)
			p := tc.provider
			if p == "" {
				p = "vertex/text-embedding-005"
			}
			if EmbedCacheKey(p, &r) == k0 {
				t.Errorf("a change of %s did not change the key", tc.name)
			}
		})
	}
	if CacheKey("vertex/text-embedding-005", &Request{Model: base.Model, Prompt: base.Text}) == k0 {
		t.Error("an embedding shares its key with a generation")
	}
}
