package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStatusErrorClasses(t *testing.T) {
	for _, tc := range []struct {
		code   int
		kind   Kind
		reason string
	}{
		{429, Transient, ReasonRateLimited},
		{503, Transient, ReasonUnavailable},
		{500, Transient, ReasonUnavailable},
		{408, Transient, ReasonDeadline},
		{504, Transient, ReasonDeadline},
		{400, Permanent, ReasonBadRequest},
		{401, Permanent, ReasonUnauthenticated},
		{403, Permanent, ReasonPermissionDenied},
		{404, Permanent, ReasonNotFound},
		{422, Permanent, ReasonClientError},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			e := StatusError(tc.code, 0, errors.New("x"))
			if e.Kind != tc.kind || e.Reason != tc.reason || e.Code != tc.code {
				t.Errorf("StatusError(%d) = %s/%s/%d, want %s/%s", tc.code, e.Kind, e.Reason, e.Code, tc.kind, tc.reason)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	safety := &Error{Kind: Permanent, Reason: ReasonSafety, Err: errors.New("blocked")}
	for _, tc := range []struct {
		name   string
		err    error
		kind   Kind
		reason string
	}{
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), Transient, ReasonDeadline},
		{"net timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, Transient, ReasonDeadline},
		{"connection reset", fmt.Errorf("post: %w", syscall.ECONNRESET), Transient, ReasonNetwork},
		{"unexpected EOF", io.ErrUnexpectedEOF, Transient, ReasonNetwork},
		{"unknown", errors.New("garbled"), Transient, ReasonUnknown},
		{"classified permanent kept", fmt.Errorf("wrapped: %w", safety), Permanent, ReasonSafety},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e *Error
			if !errors.As(Classify(tc.err), &e) {
				t.Fatalf("Classify(%v) is not an *Error", tc.err)
			}
			if e.Kind != tc.kind || e.Reason != tc.reason {
				t.Errorf("Classify(%v) = %s/%s, want %s/%s", tc.err, e.Kind, e.Reason, tc.kind, tc.reason)
			}
		})
	}
	if err := Classify(context.Canceled); !errors.Is(err, context.Canceled) {
		t.Errorf("a canceled context must come back as is, got %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		h    string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{"0.5", 500 * time.Millisecond},
		{"-1", 0},
		{"soon", 0},
		{now.Add(7 * time.Second).Format(httpTime), 7 * time.Second},
		{now.Add(-time.Minute).Format(httpTime), 0},
	} {
		if got := ParseRetryAfter(tc.h, now); got != tc.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

const httpTime = "Mon, 02 Jan 2006 15:04:05 GMT"

func TestRetryDelay(t *testing.T) {
	maxDraw := func(n int64) int64 { return n }
	r := Retry{Base: 100 * time.Millisecond, Max: 2 * time.Second, rand: maxDraw}
	plain := errors.New("x")
	for _, tc := range []struct {
		name    string
		attempt int
		err     error
		want    time.Duration
	}{
		{"first retry caps at base", 0, plain, 100 * time.Millisecond},
		{"doubles", 3, plain, 800 * time.Millisecond},
		{"capped at max", 10, plain, 2 * time.Second},
		{"retry-after raises the wait", 0, &Error{Kind: Transient, Code: 429, RetryAfter: time.Second}, time.Second},
		{"retry-after beyond max is not shortened", 0, &Error{Kind: Transient, Code: 429, RetryAfter: 45 * time.Second}, 45 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Delay(tc.attempt, tc.err); got != tc.want {
				t.Errorf("Delay = %v, want %v", got, tc.want)
			}
		})
	}
	// Full jitter: the draw is uniform in [0, cap].
	r.rand = func(int64) int64 { return 0 }
	if got := r.Delay(5, plain); got != 0 {
		t.Errorf("a zero draw gives %v, want 0", got)
	}
}

// flaky fails its first n calls with err, then answers.
type flaky struct {
	mu    sync.Mutex
	n     int
	err   error
	calls int
}

func (f *flaky) Generate(_ context.Context, req *Request) (*Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.n {
		return nil, f.err
	}
	return &Response{Text: "answer to " + req.Prompt, Usage: Usage{InputTokens: 10, OutputTokens: 5, TotalTokens: 15}}, nil
}

func TestClientRetries(t *testing.T) {
	rate429 := &Error{Kind: Transient, Code: 429, Reason: ReasonRateLimited, Err: errors.New("quota")}
	safety := &Error{Kind: Permanent, Reason: ReasonSafety, Err: errors.New("blocked")}
	for _, tc := range []struct {
		name      string
		fails     int
		err       error
		wantErr   bool
		wantCalls int
		want      Tally
	}{
		{"transient then success", 2, rate429, false, 3, Tally{Calls: 1, InputTokens: 10, OutputTokens: 5, Retries: 2, CostUSD: 0.00002}},
		{"transient past the attempts", 9, rate429, true, 4, Tally{Errors: 1, Retries: 4}},
		{"permanent is not retried", 1, safety, true, 1, Tally{Errors: 1}},
		{"unclassified is retried", 1, io.ErrUnexpectedEOF, false, 2, Tally{Calls: 1, InputTokens: 10, OutputTokens: 5, Retries: 1, CostUSD: 0.00002}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &flaky{n: tc.fails, err: tc.err}
			m := &Meter{}
			c := &Client{Next: f, Key: "p/m", Retry: Retry{Attempts: 4, Base: time.Microsecond}, Meter: m,
				Limiter: NewLimiter(Limits{}), Price: Price{InputPerMTok: 1, OutputPerMTok: 2}}
			_, err := c.Generate(t.Context(), &Request{Prompt: "q"})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			var le *Error
			if err != nil && !errors.As(err, &le) {
				t.Errorf("error %v is not classified", err)
			}
			if f.calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", f.calls, tc.wantCalls)
			}
			if d := cmp.Diff(tc.want, m.ByModel()["p/m"], cmp.Comparer(func(a, b float64) bool { return a-b < 1e-12 && b-a < 1e-12 })); d != "" {
				t.Errorf("tally (-want +got):\n%s", d)
			}
		})
	}
}

func TestRetryStopsBeforeDeadline(t *testing.T) {
	f := &flaky{n: 9, err: &Error{Kind: Transient, Code: 429, RetryAfter: time.Minute, Err: errors.New("quota")}}
	c := &Client{Next: f, Retry: Retry{Attempts: 5, Base: time.Millisecond, Max: time.Hour}}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.Generate(ctx, &Request{Prompt: "q"})
	if !IsTransient(err) {
		t.Fatalf("err = %v, want the transient 429", err)
	}
	if f.calls != 1 || time.Since(start) > 2*time.Second {
		t.Errorf("%d calls in %v: a Retry-After past the deadline must return at once", f.calls, time.Since(start))
	}
}

// TestRetryAfterBeyondMax: a Retry-After longer than Max is waited in full
// when the deadline allows it, and without a deadline the error comes back
// at once instead of an early retry (which would only meet another 429).
func TestRetryAfterBeyondMax(t *testing.T) {
	r := Retry{Attempts: 3, Base: time.Millisecond, Max: 10 * time.Millisecond}
	f := &flaky{n: 1, err: &Error{Kind: Transient, Code: 429, RetryAfter: 150 * time.Millisecond, Err: errors.New("quota")}}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := (&Client{Next: f, Retry: r}).Generate(ctx, &Request{Prompt: "q"}); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); f.calls != 2 || waited < 150*time.Millisecond {
		t.Errorf("%d calls after %v; want the retry after the full 150ms Retry-After", f.calls, waited)
	}

	f = &flaky{n: 1, err: &Error{Kind: Transient, Code: 429, RetryAfter: time.Hour, Err: errors.New("quota")}}
	if _, err := (&Client{Next: f, Retry: r}).Generate(t.Context(), &Request{Prompt: "q"}); !IsTransient(err) || f.calls != 1 {
		t.Errorf("no deadline, Retry-After 1h: err %v after %d calls; want the 429 at once", err, f.calls)
	}
}

// TestCacheEndpointKeyed: two OpenAI-compatible servers answering to the
// same model name do not share cached replies; the same server does.
func TestCacheEndpointKeyed(t *testing.T) {
	cache := &memCache{}
	a, b := &flaky{}, &flaky{}
	ca := &Client{Next: a, Key: "openai/local", Endpoint: "http://127.0.0.1:11434/v1", Cache: cache, CacheMode: CacheReadWrite}
	cb := &Client{Next: b, Key: "openai/local", Endpoint: "http://127.0.0.1:8081/v1", Cache: cache, CacheMode: CacheReadWrite}
	for _, c := range []*Client{ca, cb, ca} {
		if _, err := c.Generate(t.Context(), &Request{Prompt: "q"}); err != nil {
			t.Fatal(err)
		}
	}
	if a.calls != 1 || b.calls != 1 {
		t.Errorf("server calls %d and %d, want 1 each (the second endpoint misses, the first hits)", a.calls, b.calls)
	}
}

// memCache is an in-memory Cache.
type memCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *memCache) Get(_ context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok, nil
}

func (c *memCache) Put(_ context.Context, key string, v []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	c.m[key] = v
	return nil
}

func TestClientCacheModes(t *testing.T) {
	for _, tc := range []struct {
		mode       string
		wantCalls  int
		wantHits   int
		wantStored int
	}{
		{CacheOff, 2, 0, 0},
		{CacheRead, 2, 0, 0},
		{CacheReadWrite, 1, 1, 1},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			f := &flaky{}
			cache := &memCache{}
			m := &Meter{}
			c := &Client{Next: f, Key: "sim/x", Cache: cache, CacheMode: tc.mode, Meter: m}
			var texts []string
			for range 2 {
				resp, err := c.Generate(t.Context(), &Request{Prompt: "q"})
				if err != nil {
					t.Fatal(err)
				}
				texts = append(texts, resp.Text)
			}
			if texts[0] != texts[1] {
				t.Errorf("answers differ: %q", texts)
			}
			got := m.ByModel()["sim/x"]
			if f.calls != tc.wantCalls || got.CacheHits != tc.wantHits || len(cache.m) != tc.wantStored {
				t.Errorf("calls %d, hits %d, stored %d; want %d, %d, %d", f.calls, got.CacheHits, len(cache.m), tc.wantCalls, tc.wantHits, tc.wantStored)
			}
		})
	}
	// read mode answers from what another run stored.
	cache := &memCache{}
	w := &Client{Next: &flaky{}, Key: "sim/x", Cache: cache, CacheMode: CacheReadWrite}
	if _, err := w.Generate(t.Context(), &Request{Prompt: "q"}); err != nil {
		t.Fatal(err)
	}
	f := &flaky{}
	r := &Client{Next: f, Key: "sim/x", Cache: cache, CacheMode: CacheRead}
	resp, err := r.Generate(t.Context(), &Request{Prompt: "q"})
	if err != nil || !resp.Cached || f.calls != 0 {
		t.Errorf("read mode: cached %v, %d calls, err %v; want a cached answer and no call", resp != nil && resp.Cached, f.calls, err)
	}
}

func TestCacheKeyFields(t *testing.T) {
	temp, temp2 := 0.0, 0.7
	seed := int64(3)
	base := func() Request {
		return Request{Model: "m", System: "sys", Prompt: "user", Temperature: &temp, MaxOutputTokens: 100,
			ResponseSchema: map[string]any{"type": "object"}, Purpose: "primary"}
	}
	ref := CacheKey("sim", ptr(base()))
	// A request without a thinking control keeps the key it had before
	// the field existed (computed with the code of commit bd7b713), so
	// replies cached by earlier runs are still found.
	if ref != "5297a63028b1aec7495d009882602f03ebefd639d32a253dbc96405e4fce6097" {
		t.Errorf("the key of a request without thinking changed: %s", ref)
	}
	if again := CacheKey("sim", ptr(base())); again != ref {
		t.Fatal("the same request gave two keys")
	}
	same := base()
	same.Purpose = "judge"
	if CacheKey("sim", &same) != ref {
		t.Error("purpose must not change the key")
	}
	for _, tc := range []struct {
		name     string
		provider string
		edit     func(r *Request)
	}{
		{"provider", "vertex", func(*Request) {}},
		{"model", "sim", func(r *Request) { r.Model = "m2" }},
		{"temperature", "sim", func(r *Request) { r.Temperature = &temp2 }},
		{"no temperature", "sim", func(r *Request) { r.Temperature = nil }},
		{"max output tokens", "sim", func(r *Request) { r.MaxOutputTokens = 101 }},
		{"seed", "sim", func(r *Request) { r.Seed = &seed }},
		{"response schema", "sim", func(r *Request) { r.ResponseSchema = map[string]any{"type": "string"} }},
		{"system prompt", "sim", func(r *Request) { r.System = "sys2" }},
		{"user content", "sim", func(r *Request) { r.Prompt = "user2" }},
		{"sample index", "sim", func(r *Request) { r.Sample = 1 }},
		{"boundary shift", "sim", func(r *Request) { r.System, r.Prompt = "sysu", "ser" }},
		{"thinking level", "sim", func(r *Request) { r.Thinking = &Thinking{Level: "high"} }},
		{"thinking budget", "sim", func(r *Request) { b := 0; r.Thinking = &Thinking{Budget: &b} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := base()
			tc.edit(&r)
			if CacheKey(tc.provider, &r) == ref {
				t.Errorf("changing the %s did not change the key", tc.name)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestLimiterAdaptiveConcurrency(t *testing.T) {
	l := NewLimiter(Limits{MaxConcurrency: 8})
	if got := l.Concurrency(); got != 8 {
		t.Fatalf("starts at %d, want the maximum 8", got)
	}
	rel, err := l.Acquire(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	rel(&Error{Kind: Transient, Code: 429}, 0)
	if got := l.Concurrency(); got != 4 {
		t.Errorf("after a 429: %d, want 4 (halved)", got)
	}
	l.lastCut = time.Time{} // the next 429 is another burst
	rel, _ = l.Acquire(t.Context(), 1)
	rel(&Error{Kind: Transient, Code: 429}, 0)
	if got := l.Concurrency(); got != 2 {
		t.Errorf("after a second 429: %d, want 2", got)
	}
	// Additive increase: about `limit` successes per extra slot.
	for range 3 {
		rel, _ = l.Acquire(t.Context(), 1)
		rel(nil, 1)
	}
	if got := l.Concurrency(); got != 3 {
		t.Errorf("after 3 successes at 2: %d, want 3", got)
	}
	for range 100 {
		rel, _ = l.Acquire(t.Context(), 1)
		rel(nil, 1)
	}
	if got := l.Concurrency(); got != 8 {
		t.Errorf("after many successes: %d, want the maximum 8", got)
	}
}

func TestLimiterBoundsInFlight(t *testing.T) {
	l := NewLimiter(Limits{MaxConcurrency: 3})
	var mu sync.Mutex
	inflight, peak := 0, 0
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			rel, err := l.Acquire(t.Context(), 1)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inflight++
			peak = max(peak, inflight)
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
			mu.Lock()
			inflight--
			mu.Unlock()
			rel(nil, 1)
		})
	}
	wg.Wait()
	if peak > 3 || peak < 2 {
		t.Errorf("peak in flight %d, want ≤ 3 (and concurrency actually used)", peak)
	}
}

func TestLimiterRates(t *testing.T) {
	// 600 requests/min = 10/s with a burst of 60: the 61st call waits about
	// 100ms. Measured against a context deadline, not a clock assertion.
	l := NewLimiter(Limits{RequestsPerMinute: 600})
	for i := range 60 {
		rel, err := l.Acquire(t.Context(), 1)
		if err != nil {
			t.Fatalf("call %d within the burst: %v", i, err)
		}
		rel(nil, 1)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(ctx, 1); err == nil {
		t.Error("the call after the burst did not wait for the request rate")
	}

	// 6000 tokens/min: a call reserving 5000 passes, the next 5000 must wait.
	lt := NewLimiter(Limits{TokensPerMinute: 6000})
	rel, err := lt.Acquire(t.Context(), 5000)
	if err != nil {
		t.Fatal(err)
	}
	rel(nil, 5000)
	ctx2, cancel2 := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel2()
	if _, err := lt.Acquire(ctx2, 5000); err == nil {
		t.Error("the token budget of the minute was spent, yet the call did not wait")
	}
}

// TestLimiterSetKeepsSpentRate: two runs with different limits for one
// model alternate on an instance (each batch sets its run's limits); that
// must not refill the buckets, or every batch would start a fresh burst.
func TestLimiterSetKeepsSpentRate(t *testing.T) {
	var ls Limiters
	lim := Limits{RequestsPerMinute: 600, TokensPerMinute: 6000}
	l := ls.Get("sim/a", lim)
	for i := range 60 {
		rel, err := l.Acquire(t.Context(), 100)
		if err != nil {
			t.Fatalf("call %d within the burst: %v", i, err)
		}
		rel(nil, 100)
	}
	ls.Get("sim/a", Limits{RequestsPerMinute: 1200, TokensPerMinute: 12000}) // the other run's batch
	ls.Get("sim/a", lim)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(ctx, 1); err == nil {
		t.Error("a change of limits refilled the spent request and token buckets")
	}
}

func TestLimiters(t *testing.T) {
	var ls Limiters
	a := ls.Get("sim/a", Limits{MaxConcurrency: 4})
	if ls.Get("sim/a", Limits{MaxConcurrency: 4}) != a {
		t.Error("one model must share one limiter")
	}
	if ls.Get("sim/b", Limits{}) == a {
		t.Error("two models share a limiter")
	}
	ls.Get("sim/a", Limits{MaxConcurrency: 2})
	if got := a.Concurrency(); got != 2 {
		t.Errorf("after lowering the maximum: %d, want 2", got)
	}
}

type usageGen struct{ u Usage }

func (g usageGen) Generate(context.Context, *Request) (*Response, error) {
	return &Response{Text: "ok", Usage: g.u}, nil
}

// The meter keeps thinking and cached input tokens apart, and the cost
// prices them at their own rates.
func TestClientMetersThinkingAndCached(t *testing.T) {
	var m Meter
	c := &Client{Next: usageGen{Usage{InputTokens: 1000, CachedInputTokens: 600, OutputTokens: 300, ThinkingTokens: 250}},
		Key: "vertex/g", Meter: &m,
		Price: Price{InputPerMTok: 1, OutputPerMTok: 10, CachedInputPerMTok: ptr(0.1), ThinkingPerMTok: ptr(20.0)}}
	if _, err := c.Generate(context.Background(), &Request{Prompt: "x"}); err != nil {
		t.Fatal(err)
	}
	got := m.ByModel()["vertex/g"]
	want := (400*1 + 600*0.1 + 50*10 + 250*20) / 1e6
	if got.Calls != 1 || got.InputTokens != 1000 || got.OutputTokens != 300 || got.CachedInputTokens != 600 || got.ThinkingTokens != 250 ||
		got.CostUSD < want-1e-12 || got.CostUSD > want+1e-12 {
		t.Errorf("tally %+v, want cost %v", got, want)
	}
}
