package store

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"
)

// DoneBatchUsage reports the progress of a phase not yet done: how many of
// its batches are done and the usage of those batches summed (a phase's
// own Usage is only written when it finishes). It reads with aggregation
// queries, whatever the number of batches: Firestore allows five
// aggregations per query, so the count and the eight usage sums take two.
//
// The queries have no filter: a batch document is only ever created done
// (CompleteBatch is its one writer, terraform/firestore_test.go checks
// that), so every document counts. A filter on done would make each sum
// need a composite index (done, usage.<field>) that a deployment would
// have to create; unfiltered, the automatic single-field indexes serve
// them.
func (s *Store) DoneBatchUsage(ctx context.Context, run, phase string) (int, Usage, error) {
	q := s.phase(run, phase).Collection("batches").Query
	first, err := q.NewAggregationQuery().WithCount("n").
		WithSum("usage.calls", "calls").
		WithSum("usage.cost_usd", "cost_usd").
		WithSum("usage.cache_hits", "cache_hits").
		WithSum("usage.errors", "errors").Get(ctx)
	if err != nil {
		return 0, Usage{}, fmt.Errorf("store.DoneBatchUsage %s/%s: %w", run, phase, err)
	}
	second, err := q.NewAggregationQuery().
		WithSum("usage.input_tokens", "input_tokens").
		WithSum("usage.output_tokens", "output_tokens").
		WithSum("usage.cached_input_tokens", "cached_input_tokens").
		WithSum("usage.thinking_tokens", "thinking_tokens").Get(ctx)
	if err != nil {
		return 0, Usage{}, fmt.Errorf("store.DoneBatchUsage %s/%s: %w", run, phase, err)
	}
	n, err := countOf(first["n"])
	if err != nil {
		return 0, Usage{}, fmt.Errorf("store.DoneBatchUsage %s/%s: %w", run, phase, err)
	}
	var u Usage
	for _, f := range []struct {
		res   firestore.AggregationResult
		alias string
		int   *int
		float *float64
	}{
		{first, "calls", &u.Calls, nil},
		{first, "cost_usd", nil, &u.CostUSD},
		{first, "cache_hits", &u.CacheHits, nil},
		{first, "errors", &u.Errors, nil},
		{second, "input_tokens", &u.InputTokens, nil},
		{second, "output_tokens", &u.OutputTokens, nil},
		{second, "cached_input_tokens", &u.CachedInputTokens, nil},
		{second, "thinking_tokens", &u.ThinkingTokens, nil},
	} {
		v, err := sumOf(f.res[f.alias])
		if err != nil {
			return 0, Usage{}, fmt.Errorf("store.DoneBatchUsage %s/%s: sum of %s: %w", run, phase, f.alias, err)
		}
		if f.int != nil {
			*f.int = int(v + 0.5)
		} else {
			*f.float = v
		}
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
