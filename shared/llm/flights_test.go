package llm

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowGen answers after a delay, failing the first fail calls.
type slowGen struct {
	calls atomic.Int64
	fail  int64
}

func (g *slowGen) Generate(ctx context.Context, req *Request) (*Response, error) {
	n := g.calls.Add(1)
	time.Sleep(50 * time.Millisecond)
	if n <= g.fail {
		return nil, &Error{Kind: Permanent, Reason: ReasonBadRequest, Err: errors.New("no")}
	}
	return &Response{Text: "ok", Usage: Usage{InputTokens: 3, OutputTokens: 1}}, nil
}

// TestFlightsDuplicatesPayOnce: concurrent calls of one request on one
// instance pay once; the others are cache hits (in the meter too). When
// the call in flight fails, a waiting twin calls itself.
func TestFlightsDuplicatesPayOnce(t *testing.T) {
	for _, tt := range []struct {
		name            string
		fail            int64
		wantCalls       int64
		wantPaid, wantH int
	}{
		{"first call answers", 0, 1, 1, 3},
		{"first call fails", 1, 2, 1, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := &slowGen{fail: tt.fail}
			m := &Meter{}
			c := &Client{Next: g, Key: "sim/x", Cache: &memCache{}, CacheMode: CacheReadWrite, Flights: &Flights{}, Meter: m}
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Go(func() {
					if i > 0 {
						time.Sleep(10 * time.Millisecond) // the first is in flight
					}
					_, _ = c.Generate(t.Context(), &Request{Model: "x", Prompt: "same"})
				})
			}
			wg.Wait()
			tot := m.Total()
			if g.calls.Load() != tt.wantCalls || tot.Calls != tt.wantPaid || tot.CacheHits != tt.wantH {
				t.Errorf("provider called %d times, meter %+v; want %d calls, %d paid, %d cache hits", g.calls.Load(), tot, tt.wantCalls, tt.wantPaid, tt.wantH)
			}
		})
	}
}
