// Package primary is the simulated primary model: a chat model whose
// *format* obeys the prompt. It knows the right answer (from an answer key
// built from the datasets bucket) but wraps it in the habits of an untuned
// chat model — a preamble, quotes, a trailing explanation, the wrong
// capitalization — each removed only by an instruction (or few-shot
// demonstrations) in the prompt. It knows nothing of the optimizer: it
// answers one primary request from the request and its key alone. Every
// decision is a seeded hash of its inputs, so a run is reproducible. The
// rules are written down in docs/simulator.md.
package primary

import (
	"math"
	"strconv"

	"github.com/promptml/promptml/shared/llm"
)

// Defaults of Options.
const (
	// DefaultWrongRate is the share of inputs answered wrongly whatever the
	// prompt, so training plateaus below 1 like a real model.
	DefaultWrongRate = 0.05
	// ReappearPerTemperature is the chance, per unit of temperature, that a
	// suppressed habit comes back in one reply.
	ReappearPerTemperature = 0.15
)

// Options configures a Model. The zero value is usable: no key (every input
// is unknown), default rates.
type Options struct {
	// Key finds the example a prompt is about (a *Key or a *BucketKey over
	// the local datasets bucket).
	Key KeySource
	// WrongRate is the share of inputs answered wrongly whatever the
	// prompt; 0 means DefaultWrongRate, a negative value means never.
	WrongRate float64
	// Rates overrides DefaultRates for the habits it names.
	Rates map[Habit]float64
	// Seed seeds every decision; two models with the same options answer
	// identically.
	Seed int64
	// Noise is the share of (prompt, input) pairs whose answer is a coin
	// flip instead of what the prompt earns: half of them exactly right
	// whatever the habits, half wrong. It models evaluation noise (a
	// sampling-heavy model, a small val split) so that a worse prompt can
	// look better on val by luck, which the gate's paired test must catch.
	// The draws are seeded by NoiseSeed and hash the whole request, so two
	// prompt versions draw independently on the same example. 0 = none.
	Noise     float64
	NoiseSeed int64
}

// Model is the simulated primary. It holds no mutable state and is safe for
// concurrent use.
type Model struct {
	key       KeySource
	wrongRate float64
	rates     [numHabits]float64
	seed      int64
	noise     float64
	noiseSeed int64
}

// New returns a primary configured by opts.
func New(opts Options) *Model {
	m := &Model{
		key:       opts.Key,
		wrongRate: opts.WrongRate,
		seed:      opts.Seed,
		noise:     opts.Noise,
		noiseSeed: opts.NoiseSeed,
	}
	if m.wrongRate == 0 {
		m.wrongRate = DefaultWrongRate
	}
	for _, h := range Habits {
		m.rates[h] = DefaultRates[h]
		if r, ok := opts.Rates[h]; ok {
			m.rates[h] = r
		}
	}
	return m
}

func seedString(s *int64) string {
	if s == nil {
		return "-"
	}
	return strconv.FormatInt(*s, 10)
}

// temperature returns the request's temperature clamped to [0, 2]; nil
// means 0, the deterministic default of the pipeline.
func temperature(req *llm.Request) float64 {
	if req.Temperature == nil || math.IsNaN(*req.Temperature) {
		return 0
	}
	return math.Max(0, math.Min(2, *req.Temperature))
}
