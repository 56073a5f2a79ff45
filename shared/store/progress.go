package store

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"golang.org/x/sync/errgroup"
)

// DoneBatchUsage reports the progress of a phase not yet done: how many of
// its batches are done and the usage of those batches summed (a phase's
// own Usage is only written when it finishes). It reads with aggregation
// queries, whatever the number of batches: one count and one sum per usage
// field, run at once.
//
// The queries have no filter: a batch document is only ever created done
// (CompleteBatch is its one writer; terraform/firestore_test.go checks
// that), so every document counts. And each query aggregates one field:
// Firestore serves an aggregation from an index scan, so a filter on done,
// or several summed fields in one query, would need a composite index
// (done or the other fields, plus usage.<field>) that a deployment would
// have to create; a multi-field aggregation also drops every document that
// lacks one of the fields (the emulator does: a batch written before
// cached_input_tokens existed would vanish from every sum). One field per
// unfiltered query is served by the automatic single-field index, and a
// document without the field adds nothing to its sum.
func (s *Store) DoneBatchUsage(ctx context.Context, run, phase string) (int, Usage, error) {
	q := s.phase(run, phase).Collection("batches").Query
	var u Usage
	n := 0
	sums := []struct {
		field string
		int   *int
		float *float64
	}{
		{"usage.calls", &u.Calls, nil},
		{"usage.input_tokens", &u.InputTokens, nil},
		{"usage.output_tokens", &u.OutputTokens, nil},
		{"usage.errors", &u.Errors, nil},
		{"usage.cache_hits", &u.CacheHits, nil},
		{"usage.cost_usd", nil, &u.CostUSD},
		{"usage.cached_input_tokens", &u.CachedInputTokens, nil},
		{"usage.thinking_tokens", &u.ThinkingTokens, nil},
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		res, err := q.NewAggregationQuery().WithCount("n").Get(gctx)
		if err != nil {
			return err
		}
		n, err = countOf(res["n"])
		return err
	})
	for _, f := range sums {
		g.Go(func() error {
			res, err := q.NewAggregationQuery().WithSum(f.field, "sum").Get(gctx)
			if err != nil {
				return err
			}
			v, err := sumOf(res["sum"])
			if err != nil {
				return fmt.Errorf("sum of %s: %w", f.field, err)
			}
			if f.int != nil {
				*f.int = int(v + 0.5)
			} else {
				*f.float = v
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, Usage{}, fmt.Errorf("store.DoneBatchUsage %s/%s: %w", run, phase, err)
	}
	return n, u, nil
}

// sumOf reads a SUM aggregation: an integer while every summed value is
// one (and it does not overflow), else a double; absent or null when no
// document matched.
func sumOf(v any) (float64, error) {
	if v == nil {
		return 0, nil
	}
	pv, ok := v.(*firestorepb.Value)
	if !ok {
		return 0, fmt.Errorf("unexpected sum type %T", v)
	}
	switch x := pv.GetValueType().(type) {
	case *firestorepb.Value_IntegerValue:
		return float64(x.IntegerValue), nil
	case *firestorepb.Value_DoubleValue:
		return x.DoubleValue, nil
	case *firestorepb.Value_NullValue:
		return 0, nil
	}
	return 0, fmt.Errorf("unexpected sum value %v", pv)
}
