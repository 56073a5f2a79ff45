package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/promptml/promptml/shared/store"
)

// measurement is one run's figures.
type measurement struct {
	Wall time.Duration
	// Calls are the LLM calls the run made (primary and optimizer);
	// Optimizer is the optimizer's share.
	Calls, Primary, Optimizer int
	// Ideal is Calls × latency ÷ concurrency; IdealPath treats the
	// optimizer's calls as sequential (each costs a full latency, since
	// nothing else can run while the optimizer thinks).
	Ideal, IdealPath time.Duration
	Efficiency       float64
	EfficiencyPath   float64
	// MaxInFlight is the most model calls in flight at once; MeanInFlight
	// is the average while any primary call was in flight.
	MaxInFlight  int
	MeanInFlight float64
	// OverShare is the share of the time with calls in flight that had
	// more than the bound in flight.
	OverShare float64
	Stages    []stage
	// Export is the last phase's done → run finished.
	Export time.Duration
	Val    float64
}

// stage is a group of phases the pipeline fanned out together (baseline,
// an epoch's candidate val, an incumbent's train, test) and the time from
// the end of the previous stage to its own end, cut into segments.
type stage struct {
	Name  string
	Calls int
	// Transition: previous stage done (or the upload) → the phases exist:
	// the intake, or the aggregator's advance (optimizer call, gate,
	// Firestore writes).
	Transition time.Duration
	// Dispatch: phases created → first model call: publishing, Pub/Sub
	// push, RunBatch reading the run, phase, prompt and shard.
	Dispatch time.Duration
	// Calls: first call start → last call end; IdealCalls is the same
	// calls packed perfectly; the difference is ramp, gaps and tail.
	CallSpan, IdealCalls time.Duration
	// FanIn: last call end → last phase triggered (results object, batch
	// document, count query, state flip).
	FanIn time.Duration
	// Aggregate: triggered → done (phase-done hop, summary).
	Aggregate time.Duration
}

func (s stage) total() time.Duration {
	return s.Transition + s.Dispatch + s.CallSpan + s.FanIn + s.Aggregate
}

// call is one primary call on the timeline.
type call struct{ start, end time.Time }

// analyze turns one run into a measurement.
func analyze(raw *rawRun, o options) (*measurement, error) {
	r := raw.Run
	if r.FinishedAt.IsZero() {
		return nil, errors.New("run has no finished_at")
	}
	m := &measurement{Wall: r.FinishedAt.Sub(raw.Uploaded), Calls: r.Usage.Calls, Val: r.BestVal}
	for k, u := range r.UsageByModel {
		if strings.Contains(k, "optimizer") {
			m.Optimizer += u.Calls
		} else {
			m.Primary += u.Calls
		}
	}
	conc := time.Duration(o.concurrency)
	m.Ideal = time.Duration(m.Calls) * o.latency / conc
	m.IdealPath = time.Duration(m.Primary)*o.latency/conc + time.Duration(m.Optimizer)*o.latency
	m.Efficiency = m.Ideal.Seconds() / m.Wall.Seconds()
	m.EfficiencyPath = m.IdealPath.Seconds() / m.Wall.Seconds()

	// The provider's part of a call is the last `latency` of it: the time
	// the result records runs from the call's start, through the limiter's
	// queue, to the reply, and the simulator sleeps exactly the latency
	// before replying.
	callsOf := func(phase string) []call {
		var cs []call
		for _, res := range raw.Results[phase] {
			if res.StartedAt.IsZero() || res.Cached || res.Error != "" {
				continue
			}
			end := res.StartedAt.Add(time.Duration(res.LatencyMS) * time.Millisecond)
			cs = append(cs, call{start: end.Add(-o.latency), end: end})
		}
		return cs
	}
	var all []call
	for _, p := range raw.Phases {
		all = append(all, callsOf(p.ID)...)
	}
	m.MaxInFlight, m.MeanInFlight, m.OverShare = inFlight(all, o.concurrency)

	phases := append([]store.Phase(nil), raw.Phases...)
	sort.Slice(phases, func(i, j int) bool { return phases[i].CreatedAt.Before(phases[j].CreatedAt) })
	var groups [][]store.Phase
	for _, p := range phases {
		if n := len(groups); n > 0 && p.CreatedAt.Before(minDone(groups[n-1])) {
			groups[n-1] = append(groups[n-1], p)
			continue
		}
		groups = append(groups, []store.Phase{p})
	}
	prevEnd := raw.Uploaded
	epoch := 0
	for i, g := range groups {
		st := stage{Name: stageName(i, g, &epoch)}
		var cs []call
		created, triggered, done := g[0].CreatedAt, time.Time{}, time.Time{}
		for _, p := range g {
			cs = append(cs, callsOf(p.ID)...)
			triggered = later(triggered, p.TriggeredAt)
			done = later(done, p.DoneAt)
		}
		st.Calls = len(cs)
		st.Transition = created.Sub(prevEnd)
		if len(cs) > 0 {
			first, last := cs[0].start, cs[0].end
			for _, c := range cs {
				if c.start.Before(first) {
					first = c.start
				}
				last = later(last, c.end)
			}
			st.Dispatch = first.Sub(created)
			st.CallSpan = last.Sub(first)
			st.IdealCalls = time.Duration(len(cs)) * o.latency / conc
			st.FanIn = triggered.Sub(last)
		} else {
			st.FanIn = triggered.Sub(created)
		}
		st.Aggregate = done.Sub(triggered)
		m.Stages = append(m.Stages, st)
		prevEnd = done
	}
	m.Export = r.FinishedAt.Sub(prevEnd)
	return m, nil
}

// stageName names the i-th group of phases; epoch counts the candidate
// val stages seen so far.
func stageName(i int, g []store.Phase, epoch *int) string {
	if i == 0 {
		return "baseline (train + val of v0)"
	}
	switch g[0].Split {
	case "val":
		*epoch++
		return fmt.Sprintf("epoch %d: propose + candidate val", *epoch)
	case "train":
		return fmt.Sprintf("epoch %d: incumbent train", *epoch)
	case "test":
		return "test (initial + best)"
	}
	return g[0].Split
}

func minDone(g []store.Phase) time.Time {
	t := g[0].DoneAt
	for _, p := range g[1:] {
		if p.DoneAt.Before(t) {
			t = p.DoneAt
		}
	}
	return t
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// inFlight sweeps the calls' intervals: the most in flight at once, the
// mean over the time at least one was, and the share of that time with
// more than bound in flight.
func inFlight(cs []call, bound int) (maxN int, mean, over float64) {
	type edge struct {
		t time.Time
		d int
	}
	es := make([]edge, 0, 2*len(cs))
	for _, c := range cs {
		es = append(es, edge{c.start, 1}, edge{c.end, -1})
	}
	// Ends before starts at the same instant: a slot freed and retaken is
	// not two calls.
	sort.Slice(es, func(i, j int) bool {
		if es[i].t.Equal(es[j].t) {
			return es[i].d < es[j].d
		}
		return es[i].t.Before(es[j].t)
	})
	n := 0
	var busy, area, above float64
	for i, e := range es {
		if i > 0 && n > 0 {
			dt := e.t.Sub(es[i-1].t).Seconds()
			busy += dt
			area += dt * float64(n)
			if n > bound {
				above += dt
			}
		}
		n += e.d
		maxN = max(maxN, n)
	}
	if busy > 0 {
		mean, over = area/busy, above/busy
	}
	return maxN, mean, over
}
