package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/promptml/promptml/shared/blob"
	"github.com/promptml/promptml/shared/store"
)

// PhaseResults returns the per-example results of a phase's done batches
// from batch `from` on, whole batches in order, stopping once at least
// limit examples are collected (limit <= 0: no limit). next is the batch to
// ask for the rest, or -1 when there is no more.
func (p *Pipeline) PhaseResults(ctx context.Context, runID, phaseID string, from, limit int) (out []Result, next int, err error) {
	ph, err := p.store.GetPhase(ctx, runID, phaseID)
	if err != nil {
		return nil, -1, err
	}
	batches, err := p.store.ListBatches(ctx, runID, phaseID)
	if err != nil {
		return nil, -1, err
	}
	sort.Slice(batches, func(i, j int) bool { return batches[i].N < batches[j].N })
	out = []Result{}
	for i, b := range batches {
		if b.N < from {
			continue
		}
		if limit > 0 && len(out) >= limit {
			return out, batches[i].N, nil
		}
		rs, err := p.batchResults(ctx, b)
		if err != nil {
			return nil, -1, fmt.Errorf("pipeline.PhaseResults %s/%d: %w", ph.ID, b.N, err)
		}
		out = append(out, rs...)
	}
	return out, -1, nil
}

// batchResults reads the results object a batch document names.
func (p *Pipeline) batchResults(ctx context.Context, b store.Batch) ([]Result, error) {
	bucket, name, err := blob.ParseURI(b.ResultsURI)
	if err != nil {
		return nil, err
	}
	rc, err := p.blob.Open(ctx, bucket, name, 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return decodeResults(rc)
}

// attemptID names one attempt at a batch.
func attemptID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// readResults reads every result of a phase, in batch order.
func (p *Pipeline) readResults(ctx context.Context, runID string, ph *store.Phase) ([]Result, []store.Batch, error) {
	batches, err := p.store.ListBatches(ctx, runID, ph.ID)
	if err != nil {
		return nil, nil, err
	}
	byN := make([]*store.Batch, ph.TotalBatches)
	for i := range batches {
		if b := batches[i]; b.N < len(byN) {
			byN[b.N] = &batches[i]
		}
	}
	for n, b := range byN {
		if b == nil {
			return nil, nil, fmt.Errorf("pipeline.readResults: phase %s batch %d is not done", ph.ID, n)
		}
	}
	// The objects are read concurrently: one after the other, a phase of
	// hundreds of batches cost the aggregator a Storage round trip each
	// between the phase's last reply and the next stage's first call.
	per := make([][]Result, len(byN))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(resultReaders)
	for n, b := range byN {
		g.Go(func() error {
			rs, err := p.batchResults(gctx, *b)
			if err != nil {
				return fmt.Errorf("pipeline.readResults %s/%d: %w", ph.ID, n, err)
			}
			per[n] = rs
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	var out []Result
	for _, rs := range per {
		out = append(out, rs...)
	}
	return out, batches, nil
}

// resultReaders bounds the concurrent reads of one phase's results objects.
const resultReaders = 16

func decodeResults(r io.Reader) ([]Result, error) {
	dec := json.NewDecoder(r)
	var out []Result
	for {
		var res Result
		if err := dec.Decode(&res); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
}
