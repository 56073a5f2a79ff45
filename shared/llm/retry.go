package llm

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Retry is the policy for transient errors: exponential backoff with full
// jitter, at least the provider's Retry-After (never shortened: retrying
// earlier than asked only earns another 429), and never past the context's
// deadline (the function's remaining time): a wait that would end after it
// returns the error at once, so the batch fails while there is still time to
// say so and Pub/Sub redelivers it later.
type Retry struct {
	// Attempts is the number of tries in total (default 4: the first and
	// three retries).
	Attempts int
	// Base is the backoff cap of the first retry (default 500ms); the cap
	// doubles at every retry.
	Base time.Duration
	// Max caps the backoff (default 30s). A Retry-After longer than Max is
	// honoured only within the context's deadline; without a deadline the
	// error is returned at once rather than waiting that long in-process.
	Max time.Duration
	// rand draws a duration in [0, n]; nil uses math/rand/v2.
	rand func(n int64) int64
}

func (r Retry) attempts() int {
	if r.Attempts <= 0 {
		return 4
	}
	return r.Attempts
}

// Delay is the wait before retry number attempt (0 for the first retry)
// after err: a uniform draw in [0, min(Max, Base·2^attempt)] (full jitter),
// raised to the error's RetryAfter when that is longer.
func (r Retry) Delay(attempt int, err error) time.Duration {
	base, maxD := r.Base, r.Max
	if base <= 0 {
		base = 500 * time.Millisecond
	}
	if maxD <= 0 {
		maxD = 30 * time.Second
	}
	ceil := maxD
	if attempt < 30 && base<<attempt > 0 && base<<attempt < maxD {
		ceil = base << attempt
	}
	draw := r.rand
	if draw == nil {
		draw = func(n int64) int64 { return rand.Int64N(n + 1) }
	}
	d := time.Duration(draw(int64(ceil)))
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > d {
		d = e.RetryAfter
	}
	return d
}

func (r Retry) max() time.Duration {
	if r.Max <= 0 {
		return 30 * time.Second
	}
	return r.Max
}

// Do calls fn until it succeeds, fails permanently, the attempts run out,
// or the next wait would pass ctx's deadline; it returns fn's last error,
// classified. onTransient, when set, sees every transient failure (the
// limiter cuts its concurrency on a 429).
func (r Retry) Do(ctx context.Context, fn func(ctx context.Context) error, onTransient func(error)) error {
	var err error
	for attempt := 0; ; attempt++ {
		err = Classify(fn(ctx))
		if err == nil || !IsTransient(err) || errors.Is(err, context.Canceled) {
			return err
		}
		if onTransient != nil {
			onTransient(err)
		}
		if attempt+1 >= r.attempts() || ctx.Err() != nil {
			return err
		}
		d := r.Delay(attempt, err)
		dl, ok := ctx.Deadline()
		if ok && time.Until(dl) < d || !ok && d > r.max() {
			return err
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}
