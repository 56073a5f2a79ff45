package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/promptml/promptml/shared/fault"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/pipeline/pipelinetest"
	"github.com/promptml/promptml/shared/queue"
	"github.com/promptml/promptml/shared/store"
)

// runWithFaults trains sample in-process with in (nil: no faults) and
// returns the final state and the number of redeliveries.
func runWithFaults(t *testing.T, sample string, in *fault.Injector) (snapshot, int) {
	t.Helper()
	csv := readSample(t, sample)
	e := pipelinetest.New(t, csv)
	if in != nil {
		e.With(t, func(d *pipeline.Deps, c *pipeline.Config) { d.Faults = in })
	}
	u := e.Upload(t, sample, csv)
	id, err := e.P.StartFromUpload(t.Context(), u)
	for try := 0; errors.Is(err, fault.ErrInjected) && try < 5; try++ {
		// The intake's fan-out died: Eventarc redelivers the upload event.
		id, err = e.P.StartFromUpload(t.Context(), u)
	}
	if err != nil {
		t.Fatal(err)
	}
	n := e.Drain(t, in != nil)
	// Whatever failed and was redone, the run's spend is what the model
	// answered, counted at the model.
	requireSpendIsServed(t, e, id)
	return takeSnapshot(t, e.Store, id), n
}

// TestFaultPointsChangeNothing fails invocations at every fault point
// (after part of their effects), with every message delivered twice, and
// requires the run to end exactly as the run without faults: same prompts,
// scores, epochs, phases (and their usage), events and one batch document
// per batch. The run's own usage differs, since the redone work was paid
// again; runWithFaults checks it against the calls the model answered.
func TestFaultPointsChangeNothing(t *testing.T) {
	clean, _ := runWithFaults(t, "translation-fr.csv", nil)
	if clean.Status != store.StatusSucceeded {
		t.Fatalf("clean run: %s", clean.Status)
	}
	in := &fault.Injector{BatchRate: 0.3, AggregateRate: 0.4, Seed: 3}
	faulty, redelivered := runWithFaults(t, "translation-fr.csv", in)
	counts := in.Counts()
	t.Logf("faults injected: %s; redeliveries %d", in, redelivered)
	for _, p := range []string{fault.BatchAfterResults, fault.BatchAfterComplete, fault.AggregateAfterSummary,
		fault.AggregateAfterNext, fault.AggregateAfterCommit, fault.AggregateMidFanOut} {
		if counts[p] == 0 {
			t.Errorf("no fault injected at %s: the test does not exercise it", p)
		}
	}
	if d := cmp.Diff(clean, faulty, cmpopts.IgnoreFields(snapshot{}, "Usage")); d != "" {
		t.Errorf("run with faults differs (-clean +faulty):\n%s", d)
	}
}

// TestAggregatorDiesMidEpoch: the aggregator fails at each point of a stage
// transition after its partial writes (the phase summary, the epoch's
// proposals and prompts, the committed transition, the published fan-out);
// the redelivered message completes the run as if nothing happened.
func TestAggregatorDiesMidEpoch(t *testing.T) {
	clean, _ := runWithFaults(t, "sentiment.csv", nil)
	for _, point := range []string{fault.AggregateAfterSummary, fault.AggregateAfterNext, fault.AggregateAfterCommit, fault.AggregateMidFanOut} {
		t.Run(point, func(t *testing.T) {
			// Rate near 1 and one fault per key: every transition dies once
			// at this point, then gets through.
			in := &fault.Injector{AggregateRate: 0.999, MaxPerKey: 1, Only: []string{point}}
			got, redelivered := runWithFaults(t, "sentiment.csv", in)
			if in.Counts()[point] == 0 || redelivered == 0 {
				t.Fatalf("no fault at %s (redeliveries %d)", point, redelivered)
			}
			// Delivered twice: one delivery's failure may be absorbed by
			// its twin, so events and the phases' usage must still match
			// exactly (the run's usage is checked against the model by
			// runWithFaults).
			if d := cmp.Diff(clean, got, cmpopts.EquateEmpty(), cmpopts.IgnoreFields(snapshot{}, "Usage")); d != "" {
				t.Errorf("run resumed after %d faults differs (-clean +resumed):\n%s", in.Counts()[point], d)
			}
		})
	}
}

// slowQueue makes publishing slow, so concurrent deliveries overlap.
type slowQueue struct{ *pipelinetest.Queue }

func (q slowQueue) PublishBatches(ctx context.Context, msgs []queue.BatchMessage) error {
	time.Sleep(300 * time.Millisecond)
	return q.Queue.PublishBatches(ctx, msgs)
}

// TestLostFanOutIsRepublishedOnce: the aggregator dies after committing the
// first epoch's transition and before publishing its batches; five
// deliveries of the message then arrive at once. The fan-out must be
// published once (each extra copy of a not-done batch is scored, and paid,
// twice), and the run must still complete.
func TestLostFanOutIsRepublishedOnce(t *testing.T) {
	csv := readSample(t, "sentiment.csv")
	e := pipelinetest.New(t, csv)
	ctx := t.Context()
	e.With(t, func(d *pipeline.Deps, c *pipeline.Config) { d.Queue = slowQueue{e.Q} })
	e.With(t, func(d *pipeline.Deps, c *pipeline.Config) {
		d.Faults = &fault.Injector{AggregateRate: 0.999, MaxPerKey: 1, Only: []string{fault.AggregateAfterCommit}}
	})
	id, err := e.P.StartFromUpload(ctx, e.Upload(t, "s.csv", csv))
	if err != nil {
		t.Fatal(err)
	}
	bs, _ := e.Q.Take()
	for _, b := range bs {
		if err := e.P.RunBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	_, ds := e.Q.Take()
	var failed *queue.PhaseDoneMessage
	for i, d := range ds {
		err := e.P.Aggregate(ctx, d, fmt.Sprintf("first-%d", i))
		if errors.Is(err, fault.ErrInjected) {
			failed = &ds[i]
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if failed == nil {
		t.Fatal("no aggregator died after its commit")
	}
	if got, _ := e.Q.Take(); len(got) != 0 {
		t.Fatalf("%d batches published by the dead aggregator, want 0", len(got))
	}
	r, err := e.Store.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// The first epoch's stage: one val phase per candidate, none done.
	want := len(r.Pending) * r.Dataset.Batches["val"]
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() { _ = e.P.Aggregate(ctx, *failed, fmt.Sprintf("redelivery-%d", i)) })
	}
	wg.Wait()
	got, _ := e.Q.Take()
	if len(got) != want {
		t.Errorf("%d batch messages published by 5 concurrent redeliveries, want %d (one fan-out)", len(got), want)
	}
	_ = e.Q.PublishBatches(ctx, got)
	e.Drain(t, false)
	if r, err := e.Store.GetRun(ctx, id); err != nil || r.Status != store.StatusSucceeded {
		t.Fatalf("run %v %v, want succeeded", r, err)
	}
}
