package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/promptml/promptml/shared/blob"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/llm/sim"
	"github.com/promptml/promptml/shared/optimize"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/pipeline/pipelinetest"
	"github.com/promptml/promptml/shared/store"
)

// scripted answers optimizer calls with reply(n, req) (n counts optimizer
// calls from 1) and passes every other call to the simulator; a reply of ""
// also goes to the simulator.
type scripted struct {
	pipeline.Generator
	mu    sync.Mutex
	calls int
	// errs are the previous_error of each optimizer request, in order.
	errs  []string
	reply func(n int, req *llm.Request) string
}

func (s *scripted) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if req.Purpose != "optimizer" {
		return s.Generator.Generate(ctx, req)
	}
	s.mu.Lock()
	s.calls++
	n := s.calls
	d, err := optimize.DecodeData(req.Prompt)
	s.errs = append(s.errs, d.PreviousError)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if text := s.reply(n, req); text != "" {
		return &llm.Response{Text: text, Usage: llm.Usage{InputTokens: 100, OutputTokens: 20, TotalTokens: 120}}, nil
	}
	return s.Generator.Generate(ctx, req)
}

type scriptedModels struct{ g pipeline.Generator }

func (m scriptedModels) Model(context.Context, config.Model) (pipeline.Generator, error) {
	return m.g, nil
}

func rewriteJSON(t *testing.T, system, output string) string {
	t.Helper()
	b, err := json.Marshal(map[string]string{"system_prompt": system, "output_prompt": output, "reasoning": "scripted"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Prompts of the noise test: the incumbent suppresses every habit; the
// candidate drops the quotes instruction, so it is truly worse on the
// examples the quotes habit applies to.
const (
	allFixed = "Start directly with the answer; do not add a preamble. Do not wrap the answer in quotation marks. " +
		"Do not explain the answer or add any text after it. Preserve the exact capitalization the answer calls for."
	quotesBack = "Start directly with the answer; do not add a preamble. " +
		"Do not explain the answer or add any text after it. Preserve the exact capitalization the answer calls for."
)

// TestGateRejectsNoise: the simulator's seeded noise makes a truly worse
// candidate look better on val; gate.test none accepts it, mcnemar and
// bootstrap reject it. The noise seed is searched (the first of 1..20 under
// which none accepts), so the test does not depend on one lucky constant.
func TestGateRejectsNoise(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	sidecar := withoutOptimizer(readSample(t, "translation-fr.yaml"))
	sidecar = strings.Replace(sidecar, `output: "Answer the request."`, `output: "`+allFixed+`"`, 1)
	run := func(t *testing.T, noise float64, seed int64, test string) *store.Epoch {
		e := pipelinetest.New(t, csv)
		key, err := sim.ParseCSV(strings.NewReader(csv))
		if err != nil {
			t.Fatal(err)
		}
		// Quotes on 10% of inputs: dropping the instruction against them
		// loses a couple of val examples, a real but small regression.
		m := sim.New(sim.Options{Key: sim.NewKey(key), Seed: 1, Rates: map[sim.Habit]float64{sim.Quotes: 0.1},
			Noise: noise, NoiseSeed: seed})
		e.With(t, func(d *pipeline.Deps, c *pipeline.Config) {
			d.Models = scriptedModels{&scripted{Generator: m, reply: func(int, *llm.Request) string {
				return rewriteJSON(t, "You are a helpful assistant.", quotesBack)
			}}}
		})
		_, epochs := runSample(t, e, csv, sidecar, "epochs: 1\ngate: {test: "+test+"}\n")
		if len(epochs) != 1 {
			t.Fatalf("%d epochs, want 1", len(epochs))
		}
		t.Logf("noise %.1f seed %d test %s:%s", noise, seed, test, trajectory(epochs))
		return epochs[0]
	}
	ep := run(t, 0, 0, "none")
	if ep.Delta >= 0 || ep.Decision != store.DecisionRejected {
		t.Fatalf("without noise Δ = %+.3f (%s); the candidate must be truly worse", ep.Delta, ep.Decision)
	}
	var seed int64
	for s := int64(1); s <= 20 && seed == 0; s++ {
		if ep := run(t, 0.5, s, "none"); ep.Decision == store.DecisionAccepted {
			if ep.Delta <= 0 || ep.GateTest != "none" || ep.PValue != nil {
				t.Fatalf("none accepted with Δ %+.3f test %s p %v", ep.Delta, ep.GateTest, ep.PValue)
			}
			seed = s
		}
	}
	if seed == 0 {
		t.Fatal("no noise seed in 1..20 made the worse candidate look better")
	}
	for _, test := range []string{"mcnemar", "bootstrap"} {
		t.Run(test, func(t *testing.T) {
			ep := run(t, 0.5, seed, test)
			if ep.Delta <= 0 || ep.Decision != store.DecisionRejected || ep.GateTest != test || ep.PValue == nil || *ep.PValue <= 0.1 {
				t.Fatalf("Δ = %+.3f decision %s test %s p %v; want the same positive Δ rejected with p > alpha", ep.Delta, ep.Decision, ep.GateTest, ep.PValue)
			}
		})
	}
}

// TestLeakageGuardBlocksValAnswers: an optimizer that copies val answers
// into the prompt gets its candidate blocked, never scored.
func TestLeakageGuardBlocksValAnswers(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	e := pipelinetest.New(t, csv)
	sm := e.Models().(pipelinetest.SimModels)
	var runID string
	var copied []string
	e.With(t, func(d *pipeline.Deps, c *pipeline.Config) {
		d.Models = scriptedModels{&scripted{Generator: sm.M, reply: func(_ int, req *llm.Request) string {
			r, err := e.Store.GetRun(context.Background(), runID)
			if err != nil {
				t.Error(err)
				return ""
			}
			val, _, err := e.P.PhaseResults(context.Background(), runID, pipeline.PhaseID("val", r.InitialPromptID), 0, 0)
			if err != nil {
				t.Error(err)
				return ""
			}
			out := "Answer the request. Good answers look like:"
			for _, x := range val {
				if len(strings.Fields(x.Expected)) >= 4 && len(copied) < 2 {
					copied = append(copied, x.Expected)
					out += " " + x.Expected
				}
			}
			return rewriteJSON(t, "You are a helpful assistant.", out)
		}}}
	})
	e.Upload(t, "t.yaml", mergeYAML(t, readSample(t, "translation-fr.yaml"), "epochs: 1\n"))
	id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, "t.csv", csv))
	if err != nil {
		t.Fatal(err)
	}
	runID = id
	e.Drain(t, false)
	r, err := e.Store.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	epochs, err := e.Store.ListEpochs(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusSucceeded || len(epochs) != 1 || len(copied) == 0 {
		t.Fatalf("run %s, %d epochs, %d answers copied", r.Status, len(epochs), len(copied))
	}
	c := epochs[0].Candidates[0]
	if c.Status != store.CandidateBlocked || !strings.Contains(c.Note, "leakage") || !strings.Contains(c.Note, copied[0][:10]) {
		t.Errorf("candidate %s note %q; want blocked for leaking %q", c.Status, c.Note, copied[0])
	}
	if _, err := e.Store.GetPhase(t.Context(), id, pipeline.PhaseID("val", c.PromptID)); err == nil {
		t.Error("the blocked candidate was scored on val")
	}
	if r.IncumbentID != r.InitialPromptID {
		t.Error("a blocked candidate became the incumbent")
	}
}

// TestInjectionDoesNotSteerProposals: rows of samples/injection.csv tell
// the model to change its instructions; no strategy's prompts may carry
// their text.
func TestInjectionDoesNotSteerProposals(t *testing.T) {
	csv := readSample(t, "injection.csv")
	attacker := []string{"pirate", "hacked", "piraté", "password", "poem", "german", "developer mode", "hidden instructions", "ignore", "disregard"}
	key, err := sim.ParseCSV(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	for in, out := range key {
		if strings.Contains(strings.ToLower(in), "ignore") || strings.Contains(strings.ToLower(in), "system") {
			attacker = append(attacker, strings.ToLower(out))
		}
	}
	for _, strategy := range []string{"rewrite", "edit", "fewshot"} {
		t.Run(strategy, func(t *testing.T) {
			e := pipelinetest.New(t, csv)
			sidecar := withoutOptimizer(readSample(t, "translation-fr.yaml"))
			r, _ := runSample(t, e, csv, sidecar, "optimizer: {strategy: "+strategy+"}\n")
			prompts, err := e.Store.ListPrompts(t.Context(), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(prompts) < 2 {
				t.Fatalf("%d prompts: the optimizer proposed nothing", len(prompts))
			}
			for _, pr := range prompts {
				text := pr.System + "\n" + pr.Output
				for _, d := range pr.Examples {
					text += "\n" + d.Input + "\n" + d.Output
				}
				text = strings.ToLower(text)
				for _, a := range attacker {
					if strings.Contains(text, a) {
						t.Errorf("prompt %s (epoch %d) contains attacker text %q:\n%s", pr.ID, pr.Epoch, a, text)
					}
				}
			}
			epochs, _ := e.Store.ListEpochs(t.Context(), r.ID)
			t.Logf("val %.2f → %.2f:%s", r.InitialVal, r.BestVal, trajectory(epochs))
		})
	}
}

// TestOptimizerReplies: malformed JSON twice then valid JSON gives a
// candidate on the third try; an optimizer that never answers valid JSON
// ends each epoch optimizer_failed after max_tries calls and the run still
// succeeds.
func TestOptimizerReplies(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	sidecar := readSample(t, "translation-fr.yaml")
	neverValid := func(t *testing.T, r *store.Run, epochs []*store.Epoch, s *scripted) {
		if len(epochs) != 2 || s.calls != 6 {
			t.Errorf("%d epochs, %d optimizer calls; want 2 epochs (patience) of 3 tries", len(epochs), s.calls)
		}
		for _, ep := range epochs {
			if ep.Decision != store.DecisionOptimizerFailed || !strings.Contains(ep.Note, "after 3 tries") {
				t.Errorf("epoch %d: %s %q; want optimizer_failed after 3 tries", ep.N, ep.Decision, ep.Note)
			}
		}
		if r.IncumbentID != r.InitialPromptID || r.Test == nil {
			t.Errorf("incumbent %s test %v; want the initial prompt, tested", r.IncumbentID, r.Test)
		}
	}
	tests := []struct {
		name  string
		reply func(n int) string
		check func(t *testing.T, r *store.Run, epochs []*store.Epoch, s *scripted)
		// cache turns the response cache on: every re-ask (the same error
		// again) and the next epoch's request (nothing changed) must still
		// reach the model, not be answered with the reply just rejected.
		cache bool
	}{
		{"malformed twice then valid", func(n int) string {
			switch n {
			case 1:
				return "```json\n{\"system_prompt\": \"x\", \"output_prompt\": \n```"
			case 2:
				return "Sure! Here are the prompts: system_prompt = be terse"
			}
			return "" // the simulator's valid reply
		}, func(t *testing.T, r *store.Run, epochs []*store.Epoch, s *scripted) {
			// The third reply is the simulated optimizer's own: a valid
			// proposal, scored on val. Whether the gate accepts it depends
			// on how the optimizer worded it (issue 19: it is no longer
			// built to be right), so only its being scored is required.
			c := epochs[0].Candidates
			if len(c) != 1 || c[0].Tries != 3 || (c[0].Status != store.CandidateAccepted && c[0].Status != store.CandidateRejected) {
				t.Errorf("epoch 1: %+v (%s); want one candidate on the 3rd try, scored", c, epochs[0].Decision)
			}
			// (It also required val ≥ 0.85: true only while the simulated
			// optimizer built its fixes from the primary's triggers. On
			// this run the standalone one stops at 0.00, issue 19.)
			// Each retry showed the optimizer why the previous reply failed.
			if s.errs[0] != "" || !strings.Contains(s.errs[1], "not a JSON object") || !strings.Contains(s.errs[2], "not a JSON object") {
				t.Errorf("previous_error of the first three requests = %q", s.errs[:3])
			}
		}, false},
		{"never valid", func(int) string { return "{not json" }, neverValid, false},
		{"never valid, response cache on", func(int) string { return "{not json" }, neverValid, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := pipelinetest.New(t, csv)
			if tt.cache {
				e.With(t, func(d *pipeline.Deps, c *pipeline.Config) {
					d.Cache = &blob.Cache{Store: e.Blob, Bucket: pipelinetest.Artifacts}
				})
			}
			sm := e.Models().(pipelinetest.SimModels)
			s := &scripted{Generator: sm.M, reply: func(n int, _ *llm.Request) string { return tt.reply(n) }}
			e.With(t, func(d *pipeline.Deps, c *pipeline.Config) { d.Models = scriptedModels{s} })
			r, epochs := runSample(t, e, csv, sidecar, "")
			t.Logf("%s", trajectory(epochs))
			tt.check(t, r, epochs, s)
		})
	}
}

// refusing blocks (a permanent safety error) every other primary call whose
// user content carries marker: a prompt that makes the model refuse some
// inputs.
type refusing struct {
	pipeline.Generator
	marker string
}

func (r refusing) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if req.Purpose == "primary" && strings.Contains(req.Prompt, r.marker) && len(req.Prompt)%2 == 0 {
		return nil, &llm.Error{Kind: llm.Permanent, Reason: "safety", Err: errors.New("blocked: SAFETY")}
	}
	return r.Generator.Generate(ctx, req)
}

// TestGateRejectsCandidateWithMoreErrors: scores leave unscored examples
// out, so a candidate that makes the model refuse part of val would look
// better than it is; the gate rejects a candidate with more val errors than
// the incumbent, whatever its score (here with gate.test none, which would
// otherwise accept its higher score).
func TestGateRejectsCandidateWithMoreErrors(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	sidecar := withoutOptimizer(readSample(t, "translation-fr.yaml"))
	run := func(t *testing.T, marker string) *store.Epoch {
		e := pipelinetest.New(t, csv)
		sm := e.Models().(pipelinetest.SimModels)
		e.With(t, func(d *pipeline.Deps, c *pipeline.Config) {
			d.Models = scriptedModels{&scripted{Generator: refusing{Generator: sm.M, marker: marker}, reply: func(int, *llm.Request) string {
				return rewriteJSON(t, "You are a helpful assistant.", allFixed)
			}}}
		})
		_, epochs := runSample(t, e, csv, sidecar, "epochs: 1\ngate: {test: none}\n")
		if len(epochs) != 1 {
			t.Fatalf("%d epochs, want 1", len(epochs))
		}
		t.Logf("marker %q:%s", marker, trajectory(epochs))
		return epochs[0]
	}
	t.Run("no refusals", func(t *testing.T) {
		if ep := run(t, "no prompt contains this"); ep.Decision != store.DecisionAccepted {
			t.Fatalf("decision %s; the candidate must be accepted when it answers everything", ep.Decision)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		ep := run(t, "do not add a preamble")
		if ep.Delta <= 0 || ep.Decision != store.DecisionRejected {
			t.Fatalf("Δ %+.3f decision %s; want a higher score rejected for its errors", ep.Delta, ep.Decision)
		}
	})
}
