// Package sim is the deterministic offline LLM simulator, the default model
// of the local cloud: one llm.Generator that plays two models kept in
// packages of their own that share no knowledge. A request whose Purpose is
// "optimizer" goes to the optimizer (shared/llm/sim/optimizer), which knows
// only its request; every other request to the primary
// (shared/llm/sim/primary), a chat model whose format obeys the prompt.
// This package adds what a provider adds around a model: rate limits,
// latency, token counts and truncation. Every decision is a seeded hash of
// its inputs, so a run is reproducible. The rules are written down in
// docs/simulator.md.
package sim

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/llm/sim/optimizer"
	"github.com/promptml/promptml/shared/llm/sim/primary"
)

// Defaults of Options.
const (
	// DefaultWrongRate is the primary's share of inputs answered wrongly
	// whatever the prompt (primary.DefaultWrongRate).
	DefaultWrongRate = primary.DefaultWrongRate
	// ModelName is the model name reported when the request names none.
	ModelName = "sim"
)

// Purposes the simulator distinguishes (llm.Request.Purpose).
const (
	purposeOptimizer = "optimizer"
)

// Options configures a Model. The zero value is usable: no key (every input
// is unknown), default rates, no latency, no errors. Key, WrongRate, Rates,
// Noise and NoiseSeed configure the primary (primary.Options); Seed seeds
// both models and the rate limits.
type Options struct {
	// Key finds the example a primary prompt is about (a *Key or a
	// *BucketKey over the local datasets bucket).
	Key KeySource
	// WrongRate is the share of inputs the primary gets wrong whatever the
	// prompt; 0 means DefaultWrongRate, a negative value means never.
	WrongRate float64
	// Rates overrides DefaultRates for the habits it names.
	Rates map[Habit]float64
	// Seed seeds every decision; two models with the same options answer
	// identically.
	Seed int64
	// Latency is added to every successful call (honouring ctx).
	Latency time.Duration
	// ErrorRate is the share of calls that fail with a transient 429
	// (reason "rate_limited"). The decision hashes the request and a
	// per-request attempt counter, so a retry of a failed call can succeed.
	ErrorRate float64
	// Noise is the share of (prompt, input) pairs whose answer is a coin
	// flip instead of what the prompt earns: half of them exactly right
	// whatever the habits, half wrong. It models evaluation noise (a
	// sampling-heavy model, a small val split) so that a worse prompt can
	// look better on val by luck, which the gate's paired test must catch.
	// The draws are seeded by NoiseSeed and hash the whole request, so two
	// prompt versions draw independently on the same example. 0 = none.
	Noise     float64
	NoiseSeed int64
	// RetryAfter is the Retry-After a simulated 429 carries (0: none).
	RetryAfter time.Duration
	// EchoRate is the share of optimizer calls that copy an instruction
	// found in a row's input into the prompts; 0 means
	// optimizer.DefaultEchoRate, a negative value means never.
	EchoRate float64
}

// Model is the simulator. It is safe for concurrent use.
type Model struct {
	primary    *primary.Model
	optimizer  *optimizer.Model
	seed       int64
	latency    time.Duration
	errorRate  float64
	retryAfter time.Duration

	// attempts counts calls per request hash, so a retry is a new draw. It
	// is cleared when it reaches maxAttemptKeys entries to bound memory; a
	// cleared count only restarts that request's sequence of draws.
	mu       sync.Mutex
	attempts map[uint64]uint32
}

// maxAttemptKeys bounds the attempts map.
const maxAttemptKeys = 1 << 16

// New returns a simulator configured by opts.
func New(opts Options) *Model {
	return &Model{
		primary: primary.New(primary.Options{Key: opts.Key, WrongRate: opts.WrongRate, Rates: opts.Rates,
			Seed: opts.Seed, Noise: opts.Noise, NoiseSeed: opts.NoiseSeed}),
		optimizer:  optimizer.New(optimizer.Options{Seed: opts.Seed, EchoRate: opts.EchoRate}),
		seed:       opts.Seed,
		latency:    opts.Latency,
		errorRate:  opts.ErrorRate,
		retryAfter: opts.RetryAfter,
	}
}

// Generate answers one request: as the optimizer when Purpose is
// "optimizer", otherwise as the primary model.
func (m *Model) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if req == nil {
		return nil, badRequest(errors.New("sim.Generate: nil request"))
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sim.Generate: %w", err)
	}
	// A rate limit answers at once, before any latency, as a real 429 does.
	if m.rateLimited(req) {
		return nil, &llm.Error{Kind: llm.Transient, Code: 429, Reason: "rate_limited",
			RetryAfter: m.retryAfter, Err: errors.New("sim: simulated rate limit")}
	}
	if err := sleep(ctx, m.latency); err != nil {
		return nil, fmt.Errorf("sim.Generate: %w", err)
	}
	var (
		text string
		err  error
	)
	if req.Purpose == purposeOptimizer {
		if text, err = m.optimizer.Answer(req); err != nil {
			err = badRequest(err)
		}
	} else {
		text, err = m.primary.Answer(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	finish := "STOP"
	if req.MaxOutputTokens > 0 && tokens(text) > req.MaxOutputTokens {
		text = truncateRunes(text, 4*req.MaxOutputTokens)
		finish = "MAX_TOKENS"
	}
	in, out := tokens(req.System)+tokens(req.Prompt), tokens(text)
	model := req.Model
	if model == "" {
		model = ModelName
	}
	return &llm.Response{
		Text:         text,
		Model:        model,
		FinishReason: finish,
		Usage:        llm.Usage{InputTokens: in, OutputTokens: out, TotalTokens: in + out},
	}, nil
}

// rateLimited decides, from the request's content and how many times that
// content was asked before, whether this call fails.
func (m *Model) rateLimited(req *llm.Request) bool {
	if m.errorRate <= 0 {
		return false
	}
	content := primary.Hash(m.seed, "request", req.Purpose, req.Model, req.System, req.Prompt,
		floatString(req.Temperature), seedString(req.Seed))
	m.mu.Lock()
	if m.attempts == nil || len(m.attempts) >= maxAttemptKeys {
		m.attempts = map[uint64]uint32{}
	}
	n := m.attempts[content]
	m.attempts[content] = n + 1
	m.mu.Unlock()
	return primary.Chance(m.seed, m.errorRate, "error", strconv.FormatUint(content, 16), strconv.FormatUint(uint64(n), 10))
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tokens estimates a token count as a quarter of the characters, rounded up,
// the usual rule of thumb for English text.
func tokens(s string) int {
	return (utf8.RuneCountInString(s) + 3) / 4
}

func truncateRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

func badRequest(err error) error {
	return &llm.Error{Kind: llm.Permanent, Code: 400, Reason: "bad_request", Err: err}
}

func floatString(f *float64) string {
	if f == nil {
		return "-"
	}
	return strconv.FormatFloat(*f, 'g', -1, 64)
}

func seedString(s *int64) string {
	if s == nil {
		return "-"
	}
	return strconv.FormatInt(*s, 10)
}
