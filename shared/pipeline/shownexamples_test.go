package pipeline_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/optimize"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/pipeline/pipelinetest"
)

// TestPassesAreNotCalledFailures: once the incumbent is perfect on train,
// the optimizer is sent its lowest-scoring passes; the request labels them
// so (failures_are) and the proposal event says what was shown, while an
// epoch with real failures is sent and described as before (issue 17
// item 4).
func TestPassesAreNotCalledFailures(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	sidecar := readSample(t, "translation-fr.yaml")
	e := pipelinetest.New(t, csv)
	sm := e.Models().(pipelinetest.SimModels)
	// epoch → the labels of its requests' data blocks and whether every
	// example sent passed.
	type sent struct {
		label   string
		allPass bool
	}
	var mu sync.Mutex
	byEpoch := map[int][]sent{}
	s := &scripted{Generator: sm.M, reply: func(_ int, req *llm.Request) string {
		d, err := optimize.DecodeData(req.Prompt)
		if err != nil {
			t.Errorf("optimizer request without a data block: %v", err)
			return ""
		}
		all := len(d.Failures) > 0
		for _, f := range d.Failures {
			all = all && f.Score >= 1 // exact_match passes at 1
		}
		mu.Lock()
		byEpoch[d.Epoch] = append(byEpoch[d.Epoch], sent{d.FailuresAre, all})
		mu.Unlock()
		return "" // the simulator answers
	}}
	e.With(t, func(d *pipeline.Deps, c *pipeline.Config) { d.Models = scriptedModels{s} })
	r, epochs := runSample(t, e, csv, sidecar, "early_stopping: {patience: 3}\n")
	t.Logf("%s", trajectory(epochs))

	events, err := e.Store.ListEvents(t.Context(), r.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var passing, failing int
	for n, reqs := range byEpoch {
		for _, q := range reqs {
			want := ""
			if q.allPass {
				want = optimize.LowestScoringPasses
				passing++
			} else {
				failing++
			}
			if q.label != want {
				t.Errorf("epoch %d: failures_are = %q, want %q (all sent examples pass: %v)", n, q.label, want, q.allPass)
			}
		}
		allPass := len(reqs) > 0 && reqs[0].allPass
		for _, ev := range events {
			if ev.Kind != "optimizer" || ev.Epoch != n || !strings.Contains(ev.Message, "candidate") {
				continue
			}
			says := strings.Contains(ev.Message, "lowest-scoring passing examples (nothing fails on train)")
			if says != allPass {
				t.Errorf("epoch %d (all sent examples pass: %v): event %q", n, allPass, ev.Message)
			}
			if want := map[bool]string{true: "lowest_scoring_passes", false: "failures"}[allPass]; ev.Data["shown"] != want {
				t.Errorf("epoch %d: event data shown = %v, want %s", n, ev.Data["shown"], want)
			}
		}
	}
	// Both cases must have happened, or the test proved nothing.
	if passing == 0 || failing == 0 {
		t.Fatalf("requests with only passes: %d, with failures: %d; want both (trajectory:%s)", passing, failing, trajectory(epochs))
	}
}
