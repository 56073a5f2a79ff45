package store

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"golang.org/x/sync/errgroup"
)

// SpendEntry is one metered model call in a run's spend ledger,
// runs/{run}/spend/{attempt}-{call}: a paid call (Calls 1, its tokens and
// cost) or a response-cache hit (CacheHits 1). It is written before the
// reply is used, by every delivery attempt under an id of its own, so the
// ledger holds every call the providers answered, including those of
// duplicate deliveries and of invocations that failed after their calls
// (docs/llm.md#spend).
type SpendEntry struct {
	// Model is the meter key, "provider/model".
	Model string `firestore:"model" json:"model"`
	// Role is what the call was for: primary, judge, optimizer, embedding.
	Role string `firestore:"role" json:"role"`
	// Phase is the phase of a batch's call; "" for the optimizer's.
	Phase string `firestore:"phase,omitempty" json:"phase,omitempty"`
	// Epoch is the epoch of an optimizer call; 0 for a batch's.
	Epoch int `firestore:"epoch,omitempty" json:"epoch,omitempty"`
	// Attempt names the delivery attempt that made the call.
	Attempt string `firestore:"attempt" json:"attempt"`
	// Usage is the call's usage (Errors is always 0: failed calls are
	// not paid and not in the ledger).
	Usage Usage `firestore:"usage" json:"usage"`
	// ByModel is Usage again under its model key, so one unfiltered sum per
	// model splits the run's spend by model (RunSpend).
	ByModel map[string]Usage `firestore:"by_model" json:"by_model"`
	At      time.Time        `firestore:"at" json:"at"`
}

// RecordSpend writes one ledger entry under id (an attempt's id and the
// call's index: unique per call, so a rewrite of the same entry changes
// nothing and two attempts never share one).
func (s *Store) RecordSpend(ctx context.Context, run, id string, e SpendEntry) error {
	e.ByModel = map[string]Usage{e.Model: e.Usage}
	if e.At.IsZero() {
		e.At = s.now()
	}
	if _, err := s.run(run).Collection("spend").Doc(id).Set(ctx, e); err != nil {
		return fmt.Errorf("store.RecordSpend %s/%s: %w", run, id, err)
	}
	return nil
}

// spendFields are the summed usage fields of the ledger; Errors is not one
// (failed calls are counted on the phases, not in the ledger).
var spendFields = []string{"calls", "input_tokens", "output_tokens", "cache_hits", "cost_usd", "cached_input_tokens", "thinking_tokens"}

// RunSpend sums a run's spend ledger: its total, and by model for each key
// of models. The sums are aggregation queries without a filter, one field
// each (as DoneBatchUsage, for the same reason: the automatic single-field
// indexes serve them, and a missing field adds nothing), run at once. The
// total is the sum over every entry whatever its model, so a model missing
// from models is in the total, only not split out. Errors is 0.
func (s *Store) RunSpend(ctx context.Context, run string, models []string) (Usage, map[string]Usage, error) {
	q := s.run(run).Collection("spend").Query
	var total Usage
	by := make(map[string]*Usage, len(models))
	type sum struct {
		path firestore.FieldPath
		into *Usage
		f    string
	}
	var sums []sum
	for _, f := range spendFields {
		sums = append(sums, sum{firestore.FieldPath{"usage", f}, &total, f})
	}
	for _, m := range models {
		if _, ok := by[m]; ok {
			continue
		}
		u := &Usage{}
		by[m] = u
		for _, f := range spendFields {
			// A field path, not a dotted string: model keys contain "/".
			sums = append(sums, sum{firestore.FieldPath{"by_model", m, f}, u, f})
		}
	}
	vals := make([]float64, len(sums))
	g, gctx := errgroup.WithContext(ctx)
	for i, sm := range sums {
		g.Go(func() error {
			res, err := q.NewAggregationQuery().WithSumPath(sm.path, "sum").Get(gctx)
			if err != nil {
				return err
			}
			if vals[i], err = sumOf(res["sum"]); err != nil {
				return fmt.Errorf("sum of %v: %w", sm.path, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Usage{}, nil, fmt.Errorf("store.RunSpend %s: %w", run, err)
	}
	for i, sm := range sums {
		setUsageField(sm.into, sm.f, vals[i])
	}
	out := make(map[string]Usage, len(by))
	for m, u := range by {
		if *u != (Usage{}) {
			out[m] = *u
		}
	}
	return total, out, nil
}

// setUsageField sets the field f (its Firestore name) of u to v.
func setUsageField(u *Usage, f string, v float64) {
	n := int(v + 0.5)
	switch f {
	case "calls":
		u.Calls = n
	case "input_tokens":
		u.InputTokens = n
	case "output_tokens":
		u.OutputTokens = n
	case "cache_hits":
		u.CacheHits = n
	case "cost_usd":
		u.CostUSD = v
	case "cached_input_tokens":
		u.CachedInputTokens = n
	case "thinking_tokens":
		u.ThinkingTokens = n
	}
}

// SettleUsage sets r's usage (and by model) to spend, the sums of its
// ledger, keeping r's Errors (examples without a score and failed optimizer
// calls, counted by the phases and epochs). The ledger only grows, so a sum
// read earlier never replaces one read later: spend is applied only when it
// has more calls or cache hits than r shows (or as many, with more tokens
// or cost). It reports whether it changed r.
func (r *Run) SettleUsage(spend Usage, by map[string]Usage) bool {
	cur := r.Usage
	if spend.Calls < cur.Calls || spend.CacheHits < cur.CacheHits ||
		(spend.Calls == cur.Calls && spend.CacheHits == cur.CacheHits && spend.InputTokens <= cur.InputTokens &&
			spend.OutputTokens <= cur.OutputTokens && spend.CostUSD <= cur.CostUSD+1e-12) {
		return false
	}
	spend.Errors = cur.Errors
	r.Usage = spend
	next := make(map[string]Usage, len(by))
	for m, u := range by {
		u.Errors = r.UsageByModel[m].Errors
		next[m] = u
	}
	for m, u := range r.UsageByModel {
		if _, ok := next[m]; !ok && u.Errors > 0 {
			next[m] = Usage{Errors: u.Errors}
		}
	}
	r.UsageByModel = next
	return true
}

// SettleRunUsage applies spend to the stored run (Run.SettleUsage) and
// returns the run as it stands after, and whether it wrote.
func (s *Store) SettleRunUsage(ctx context.Context, run string, spend Usage, by map[string]Usage) (*Run, bool, error) {
	wrote := false
	r, err := s.UpdateRun(ctx, run, func(r *Run) error {
		wrote = r.SettleUsage(spend, by)
		if !wrote {
			return ErrSkip
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("store.SettleRunUsage %s: %w", run, err)
	}
	return r, wrote, nil
}
