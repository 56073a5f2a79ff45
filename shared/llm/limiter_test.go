package llm

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestLimiterHandsSlotsInOrder: queued callers get freed slots first come,
// first served, one slot per release.
func TestLimiterHandsSlotsInOrder(t *testing.T) {
	l := NewLimiter(Limits{MaxConcurrency: 1})
	rel, err := l.Acquire(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			r, err := l.Acquire(t.Context(), 1)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			r(nil, 1)
		})
		// Queue them in a known order.
		for !waiting(l, i+1) {
			time.Sleep(time.Millisecond)
		}
	}
	rel(nil, 1)
	wg.Wait()
	if diff := cmp.Diff([]int{0, 1, 2, 3, 4}, order); diff != "" {
		t.Errorf("grant order mismatch (-want +got):\n%s", diff)
	}
}

func waiting(l *Limiter, n int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.waiters) == n
}

// TestLimiterCancelWhileQueued: a caller that gives up while queued leaves
// no slot taken, and the others still get theirs.
func TestLimiterCancelWhileQueued(t *testing.T) {
	tests := []struct {
		name string
		// grantFirst frees the slot before the queued caller's context
		// ends, so the grant and the cancellation race.
		grantFirst bool
	}{
		{"cancelled in the queue", false},
		{"cancelled after the grant", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLimiter(Limits{MaxConcurrency: 1})
			rel, err := l.Acquire(t.Context(), 1)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() {
				r, err := l.Acquire(ctx, 1)
				if err == nil {
					r(nil, 1)
				}
				done <- err
			}()
			for !waiting(l, 1) {
				time.Sleep(time.Millisecond)
			}
			if tt.grantFirst {
				rel(nil, 1)
				cancel()
			} else {
				cancel()
				if err := <-done; err == nil {
					t.Error("Acquire on a cancelled context: no error")
				}
				rel(nil, 1)
			}
			if tt.grantFirst {
				<-done // granted or cancelled: either way the slot comes back
			}
			actx, acancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer acancel()
			r, err := l.Acquire(actx, 1)
			if err != nil {
				t.Fatalf("slot leaked: %v", err)
			}
			r(nil, 1)
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.inflight != 0 || len(l.waiters) != 0 {
				t.Errorf("inflight %d, %d waiters after every release; want 0, 0", l.inflight, len(l.waiters))
			}
		})
	}
}

// BenchmarkLimiterContended: 512 goroutines (64 batches × 8) share 32
// slots, as RunBatch's calls do; ns/op is the limiter's cost per call.
func BenchmarkLimiterContended(b *testing.B) {
	l := NewLimiter(Limits{MaxConcurrency: 32})
	ctx := context.Background()
	work := make(chan struct{}, b.N)
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	b.ResetTimer()
	var wg sync.WaitGroup
	for range 512 {
		wg.Go(func() {
			for range work {
				r, err := l.Acquire(ctx, 1)
				if err != nil {
					b.Error(err)
					return
				}
				r(nil, 1)
			}
		})
	}
	wg.Wait()
}
