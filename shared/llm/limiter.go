package llm

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits configure a Limiter. Zero values mean "no limit".
type Limits struct {
	// RequestsPerMinute bounds calls started per minute.
	RequestsPerMinute int
	// TokensPerMinute bounds tokens (input + output) per minute; a call
	// reserves its estimate before it starts and settles the difference
	// with its real usage after.
	TokensPerMinute int
	// MaxConcurrency bounds calls in flight; adaptive concurrency moves
	// between 1 and this (0: 64).
	MaxConcurrency int
}

// Limiter paces the calls of one model on one instance: a token bucket for
// requests per minute (burst: a tenth of a minute's worth, so calls spread
// over the minute instead of all leaving at its start), one for tokens per
// minute, and an adaptive bound on
// calls in flight that halves at every 429 and grows by one call per
// window of successes (additive increase, multiplicative decrease, as TCP
// does). Every goroutine of the instance shares it. It is safe for
// concurrent use.
type Limiter struct {
	mu       sync.Mutex
	limits   Limits
	rpm      *rate.Limiter
	tpm      *rate.Limiter
	limit    float64 // adaptive bound on calls in flight
	inflight int
	// waiters queue for a slot, first come first served. A freed slot is
	// handed to the head waiter (inflight stays counted for it), so a
	// release wakes one goroutine: waking every waiter to race for one
	// slot cost a thundering herd per call when hundreds queued.
	waiters []chan struct{}
	lastCut time.Time
}

// NewLimiter returns a limiter with l.
func NewLimiter(l Limits) *Limiter {
	lim := &Limiter{}
	lim.setLocked(l)
	lim.limit = float64(lim.maxConc())
	return lim
}

func (l *Limiter) maxConc() int {
	if l.limits.MaxConcurrency <= 0 {
		return 64
	}
	return l.limits.MaxConcurrency
}

// Set changes the limits (a run configured other values); the adaptive
// bound is clamped to the new maximum.
func (l *Limiter) Set(lim Limits) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lim == l.limits {
		return
	}
	l.setLocked(lim)
	l.limit = math.Min(l.limit, float64(l.maxConc()))
	if l.limit < 1 {
		l.limit = float64(l.maxConc())
	}
	l.grantLocked()
}

func (l *Limiter) setLocked(lim Limits) {
	l.limits = lim
	// A bucket that exists is retuned, not replaced: a new bucket starts
	// full, and runs with different limits alternating on one instance
	// would each start a fresh burst.
	l.rpm = retune(l.rpm, lim.RequestsPerMinute, max(1, lim.RequestsPerMinute/10))
	// A call's tokens are reserved at once: the burst must hold the
	// largest call, so it is a full minute's worth.
	l.tpm = retune(l.tpm, lim.TokensPerMinute, lim.TokensPerMinute)
}

// retune returns b set to n per minute with burst, a new bucket when b is
// nil, or nil when n is 0 (no limit).
func retune(b *rate.Limiter, n, burst int) *rate.Limiter {
	if n <= 0 {
		return nil
	}
	if b == nil {
		return rate.NewLimiter(rate.Limit(float64(n)/60), burst)
	}
	now := time.Now()
	b.SetLimitAt(now, rate.Limit(float64(n)/60))
	b.SetBurstAt(now, burst)
	return b
}

// Concurrency is the current adaptive bound on calls in flight.
func (l *Limiter) Concurrency() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit)
}

// Acquire waits for a slot and for the rate limits, reserving tokens
// (the call's estimate). The returned release must be called once with the
// call's outcome: the error and the tokens it really used.
func (l *Limiter) Acquire(ctx context.Context, tokens int) (release func(err error, used int), err error) {
	if err := l.slot(ctx); err != nil {
		return nil, err
	}
	l.mu.Lock()
	rpm, tpm := l.rpm, l.tpm
	l.mu.Unlock()
	if err := wait(ctx, rpm, 1); err != nil {
		l.done(nil, false)
		return nil, err
	}
	if tpm != nil {
		tokens = min(max(tokens, 1), tpm.Burst())
	}
	if err := wait(ctx, tpm, tokens); err != nil {
		l.done(nil, false)
		return nil, err
	}
	var once sync.Once
	return func(err error, used int) {
		once.Do(func() {
			if tpm != nil && used > tokens {
				// Debit what the estimate missed; later calls wait.
				tpm.ReserveN(time.Now(), min(used-tokens, tpm.Burst()))
			}
			l.done(err, true)
		})
	}, nil
}

// slot takes a slot at once when one is free and nobody queues before us,
// else queues until done or grantLocked hands one over.
func (l *Limiter) slot(ctx context.Context) error {
	l.mu.Lock()
	if len(l.waiters) == 0 && l.inflight < max(1, int(l.limit)) {
		l.inflight++
		l.mu.Unlock()
		return nil
	}
	ch := make(chan struct{}, 1)
	l.waiters = append(l.waiters, ch)
	l.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, w := range l.waiters {
			if w == ch {
				l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
				return ctx.Err()
			}
		}
		// Granted while we gave up: pass the slot on.
		l.inflight--
		l.grantLocked()
		return ctx.Err()
	}
}

// grantLocked hands free slots to the queued waiters, in order.
func (l *Limiter) grantLocked() {
	for len(l.waiters) > 0 && l.inflight < max(1, int(l.limit)) {
		ch := l.waiters[0]
		l.waiters[0] = nil
		l.waiters = l.waiters[1:]
		l.inflight++
		ch <- struct{}{}
	}
}

func wait(ctx context.Context, lim *rate.Limiter, n int) error {
	if lim == nil {
		return nil
	}
	return lim.WaitN(ctx, n)
}

// done frees a slot and adapts the bound to the call's outcome.
func (l *Limiter) done(err error, called bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight--
	if called {
		var e *Error
		switch {
		case err == nil:
			// +1 per window of `limit` successes.
			l.limit = math.Min(float64(l.maxConc()), l.limit+1/math.Max(1, l.limit))
		case errors.As(err, &e) && e.Code == 429:
			// One cut per burst of 429s: the calls in flight when the
			// quota ran out all fail together.
			if now := time.Now(); now.Sub(l.lastCut) > 100*time.Millisecond {
				l.limit = math.Max(1, l.limit/2)
				l.lastCut = now
			}
		}
	}
	l.grantLocked()
}

// Limiters holds one Limiter per model key ("provider/model") for an
// instance.
type Limiters struct {
	mu sync.Mutex
	m  map[string]*Limiter
}

// Get returns the limiter of key, created with lim on first use and
// updated to lim after.
func (ls *Limiters) Get(key string, lim Limits) *Limiter {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.m == nil {
		ls.m = map[string]*Limiter{}
	}
	l, ok := ls.m[key]
	if !ok {
		l = NewLimiter(lim)
		ls.m[key] = l
		return l
	}
	l.Set(lim)
	return l
}
