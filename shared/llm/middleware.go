package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/promptml/promptml/shared/logging"
)

// Call is one model call of one kind: a generation (*Request → *Response)
// or an embedding (*EmbedRequest → *Embedding).
type Call[Req, Resp any] func(ctx context.Context, req Req) (Resp, error)

// Middleware wraps a call with one concern: metering, the response cache,
// retries, the limiter. The same four serve every kind of call.
type Middleware[Req, Resp any] func(next Call[Req, Resp]) Call[Req, Resp]

// Chain wraps call in mws, the first outermost.
func Chain[Req, Resp any](call Call[Req, Resp], mws ...Middleware[Req, Resp]) Call[Req, Resp] {
	for i := len(mws) - 1; i >= 0; i-- {
		call = mws[i](call)
	}
	return call
}

// CallKind is what the middleware must know of one kind of call: its cache
// key and cache entry, the tokens it reserves, and how its reply is
// checked and counted. Generation and Embedding are the two call kinds.
type CallKind[Req, Resp any] interface {
	cacheKey(provider string, req Req) string
	estimate(req Req) int
	// check turns an empty reply into a transient error and returns the
	// tokens the call used (the limiter settles its reservation with them).
	check(resp Resp, err error) (int, error)
	// fill completes a successful reply (an embedding the provider did not
	// count is counted at the estimate).
	fill(req Req, resp Resp) Resp
	tally(resp Resp, price Price) Tally
	cached(resp Resp) bool
	// role is what the call is for, as the ledger records it.
	role(req Req) string
	encode(provider string, resp Resp) any
	decode(b []byte) (Resp, bool)
}

type meterKey struct{}

// WithMeter returns ctx whose model calls are metered into m: the unit of
// accounting (a batch, one proposal) is the context, not the client.
func WithMeter(ctx context.Context, m *Meter) context.Context {
	return context.WithValue(ctx, meterKey{}, m)
}

// MeterFrom returns the meter of ctx, or fallback when it carries none.
func MeterFrom(ctx context.Context, fallback *Meter) *Meter {
	if m, ok := ctx.Value(meterKey{}).(*Meter); ok && m != nil {
		return m
	}
	return fallback
}

// Metered counts every call into the context's meter (else fallback) under
// key: a cache hit, or a paid call's tokens and cost at price, or an error
// (a cancelled call is not an error of the model). A paid call or a cache
// hit is written to the meter's ledger before the reply is returned; when
// that write fails the reply is not used (a transient error: the attempt
// is redone, and finds the reply in the response cache), so no reply is
// ever used that the ledger does not count.
func Metered[Req, Resp any](k CallKind[Req, Resp], key string, price Price, fallback *Meter) Middleware[Req, Resp] {
	return func(next Call[Req, Resp]) Call[Req, Resp] {
		return func(ctx context.Context, req Req) (Resp, error) {
			m := MeterFrom(ctx, fallback)
			resp, err := next(ctx, req)
			var t Tally
			switch {
			case err != nil:
				if !errors.Is(err, context.Canceled) {
					m.add(key, Tally{Errors: 1})
				}
				return resp, err
			case k.cached(resp):
				t = Tally{CacheHits: 1}
			default:
				t = k.tally(resp, price)
			}
			m.add(key, t)
			if err := m.record(ctx, key, k.role(req), t); err != nil {
				var zero Resp
				return zero, &Error{Kind: Transient, Reason: ReasonUnknown, Err: fmt.Errorf("llm: recording the spend of a %s call: %w", key, err)}
			}
			return resp, nil
		}
	}
}

// Cached answers from cache when mode allows it and stores new replies in
// mode readwrite. provider (with the endpoint when the model name does not
// imply it) is part of the key. A cache failure is never a call's failure:
// a failed read is a miss, a failed write is logged.
//
// With flights (nil: none) in mode readwrite, a call whose key is already
// in flight on this instance waits for it and answers from the cache
// entry it wrote (a cache hit, not a paid call); if that call failed, it
// calls itself.
func Cached[Req, Resp any](k CallKind[Req, Resp], cache Cache, mode, provider string, flights *Flights) Middleware[Req, Resp] {
	return func(next Call[Req, Resp]) Call[Req, Resp] {
		if cache == nil || (mode != CacheRead && mode != CacheReadWrite) {
			return next
		}
		if mode != CacheReadWrite {
			flights = nil
		}
		return func(ctx context.Context, req Req) (Resp, error) {
			key := k.cacheKey(provider, req)
			var done func()
			for {
				if resp, ok := lookup(ctx, k, cache, key, provider); ok {
					return resp, nil
				}
				var err error
				if done, err = flights.await(ctx, key); err != nil {
					var zero Resp
					return zero, err
				}
				if done != nil {
					break
				}
			}
			defer done()
			resp, err := next(ctx, req)
			if err == nil && mode == CacheReadWrite {
				putCache(ctx, cache, key, provider, k.encode(provider, resp))
			}
			return resp, err
		}
	}
}

func lookup[Req, Resp any](ctx context.Context, k CallKind[Req, Resp], cache Cache, key, model string) (Resp, bool) {
	var zero Resp
	b, ok, err := cache.Get(ctx, key)
	if err != nil {
		if ctx.Err() == nil { // else the caller gave up; the call will say so
			logging.FromContext(ctx).Warn("llm cache read failed", "model", model, "error", err.Error())
		}
		return zero, false
	}
	if !ok {
		return zero, false
	}
	return k.decode(b)
}

// putCache writes a cache entry. It outlives the caller's cancellation (the
// call was paid for) and a failure is only logged: the cache saves money,
// it is never a reason to fail a call.
func putCache(ctx context.Context, cache Cache, key, model string, entry any) {
	b, err := json.Marshal(entry)
	if err == nil {
		err = cache.Put(context.WithoutCancel(ctx), key, b)
	}
	if err != nil {
		logging.FromContext(ctx).Warn("llm cache write failed", "model", model, "error", err.Error())
	}
}

// Retried retries transient errors under policy r, counting each transient
// failure into the context's meter (else fallback) under key, and
// completes the reply of a successful call.
func Retried[Req, Resp any](k CallKind[Req, Resp], r Retry, key string, fallback *Meter) Middleware[Req, Resp] {
	return func(next Call[Req, Resp]) Call[Req, Resp] {
		return func(ctx context.Context, req Req) (Resp, error) {
			var resp Resp
			err := r.Do(ctx, func(ctx context.Context) error {
				var err error
				resp, err = next(ctx, req)
				return err
			}, func(error) { MeterFrom(ctx, fallback).add(key, Tally{Retries: 1}) })
			if err != nil {
				var zero Resp
				return zero, err
			}
			return k.fill(req, resp), nil
		}
	}
}

// Limited paces calls through lim (nil: no pacing): each reserves its
// estimated tokens and settles with what it used. It classifies the
// provider's error, and an empty reply is a transient error.
func Limited[Req, Resp any](k CallKind[Req, Resp], lim *Limiter) Middleware[Req, Resp] {
	return func(next Call[Req, Resp]) Call[Req, Resp] {
		return func(ctx context.Context, req Req) (Resp, error) {
			release := func(error, int) {}
			if lim != nil {
				var err error
				if release, err = lim.Acquire(ctx, k.estimate(req)); err != nil {
					var zero Resp
					return zero, err
				}
			}
			resp, err := next(ctx, req)
			used, err := k.check(resp, Classify(err))
			release(err, used)
			return resp, err
		}
	}
}
