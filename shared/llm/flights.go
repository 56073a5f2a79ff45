package llm

import (
	"context"
	"sync"
)

// Flights marks the cache keys whose calls are in flight on this
// instance, so a duplicate concurrent call (the twin of a duplicated
// delivery asking the same question) waits for the first one's reply to
// reach the cache instead of paying for it again. Per instance: two
// instances still both pay, and the ledger counts both. The zero value is
// ready; it is safe for concurrent use.
type Flights struct {
	mu sync.Mutex
	in map[string]chan struct{}
}

// join returns, for the first caller of key, done (call it once the cache
// entry is written or the call failed); for a later one while the first is
// in flight, wait (closed when the first is done).
func (f *Flights) join(key string) (wait <-chan struct{}, done func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.in[key]; ok {
		return c, nil
	}
	if f.in == nil {
		f.in = map[string]chan struct{}{}
	}
	c := make(chan struct{})
	f.in[key] = c
	return nil, func() {
		f.mu.Lock()
		delete(f.in, key)
		f.mu.Unlock()
		close(c)
	}
}

// await waits for key's call in flight, if any, and reports whether the
// caller must make the call itself (done non-nil: it is now the one in
// flight) or look the cache up again (done nil).
func (f *Flights) await(ctx context.Context, key string) (done func(), err error) {
	if f == nil {
		return func() {}, nil
	}
	wait, done := f.join(key)
	if done != nil {
		return done, nil
	}
	select {
	case <-wait:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
