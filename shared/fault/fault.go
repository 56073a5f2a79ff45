// Package fault injects failures into the pipeline for chaos tests of the
// local cloud: an invocation of RunBatch or Aggregate that reaches a fault
// point after writing part of its effects returns an error there, as if
// its process had died, so that Pub/Sub redelivers the message. It is off
// unless a rate is set (PROMPTML_FAULT_* on the function processes, flags
// of `promptml local`), and never set in a deployment.
package fault

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
)

// Fault points: where an invocation stops after part of its effects.
const (
	// BatchAfterResults: the results object is written, the batch
	// document is not.
	BatchAfterResults = "batch/after-results"
	// BatchAfterComplete: the batch document is written (and the phase
	// possibly flipped to triggered), phase-done is not published.
	BatchAfterComplete = "batch/after-complete"
	// AggregateAfterSummary: the prompt's scores and the phase event are
	// written, the phase is not marked done.
	AggregateAfterSummary = "aggregate/after-summary"
	// AggregateAfterNext: the next stage's epoch, prompts, phases and
	// events are written, the run's transition is not committed.
	AggregateAfterNext = "aggregate/after-next"
	// AggregateAfterCommit: the transition is committed, its fan-out is
	// not published.
	AggregateAfterCommit = "aggregate/after-commit"
	// AggregateMidFanOut: the fan-out is published, not recorded as
	// published.
	AggregateMidFanOut = "aggregate/mid-fan-out"
)

// ErrInjected is the error an injected fault returns. It is transient: the
// handler returns it so the message is redelivered.
var ErrInjected = errors.New("fault injected")

// Injector decides which invocations fail at which point. The decision
// hashes the seed, the point, the key (the message, e.g. run/phase/batch)
// and how many times this process has reached that point with that key,
// so it is deterministic for a given order of deliveries, and a
// redelivery may get through.
type Injector struct {
	// BatchRate is the probability that a RunBatch invocation fails at
	// each batch fault point it reaches (0: never).
	BatchRate float64
	// AggregateRate is the probability that an Aggregate invocation fails
	// at each aggregate fault point it reaches (0: never).
	AggregateRate float64
	// Seed varies which invocations fail.
	Seed int64
	// MaxPerKey caps the faults injected at one point for one key
	// (default 3), so that injection alone never exhausts a
	// subscription's delivery attempts and dead-letters a message.
	MaxPerKey int
	// Only, when set, restricts injection to these points.
	Only []string

	mu       sync.Mutex
	reached  map[string]int // point + key → times reached
	injected map[string]int // point + key → faults injected
	total    map[string]int // point → faults injected
}

// Enabled reports whether any fault can fire.
func (in *Injector) Enabled() bool {
	return in != nil && (in.BatchRate > 0 || in.AggregateRate > 0)
}

// Inject returns ErrInjected (wrapped with the point and key) if this
// invocation fails at point, nil otherwise. A nil Injector never fails.
func (in *Injector) Inject(_ context.Context, point, key string) error {
	if !in.Enabled() {
		return nil
	}
	rate := in.AggregateRate
	if strings.HasPrefix(point, "batch/") {
		rate = in.BatchRate
	}
	if rate <= 0 {
		return nil
	}
	if len(in.Only) > 0 && !contains(in.Only, point) {
		return nil
	}
	limit := in.MaxPerKey
	if limit <= 0 {
		limit = 3
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.reached == nil {
		in.reached, in.injected, in.total = map[string]int{}, map[string]int{}, map[string]int{}
	}
	k := point + "\x00" + key
	n := in.reached[k]
	in.reached[k]++
	if in.injected[k] >= limit || draw(in.Seed, k, n) >= rate {
		return nil
	}
	in.injected[k]++
	in.total[point]++
	return fmt.Errorf("%w at %s (%s)", ErrInjected, point, key)
}

// Counts returns the faults injected so far by point.
func (in *Injector) Counts() map[string]int {
	out := map[string]int{}
	if in == nil {
		return out
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for p, n := range in.total {
		out[p] = n
	}
	return out
}

// String describes the counts, points sorted, for logs.
func (in *Injector) String() string {
	c := in.Counts()
	points := make([]string, 0, len(c))
	for p := range c {
		points = append(points, p)
	}
	sort.Strings(points)
	var b strings.Builder
	for i, p := range points {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%d", p, c[p])
	}
	return b.String()
}

// draw is a uniform number in [0,1) from the seed, the key and the attempt.
func draw(seed int64, key string, attempt int) float64 {
	h := sha256.New()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(seed))
	binary.BigEndian.PutUint64(b[8:], uint64(attempt))
	h.Write(b[:])
	h.Write([]byte(key))
	v := binary.BigEndian.Uint64(h.Sum(nil)[:8])
	return float64(v>>11) / math.Exp2(53)
}

// Sample reports whether the n-th event of key is picked at rate: the same
// seeded draw as Inject, for faults outside the functions (the local
// cloud's duplicate deliveries).
func Sample(seed int64, key string, n int, rate float64) bool {
	return rate > 0 && draw(seed, key, n) < rate
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}
