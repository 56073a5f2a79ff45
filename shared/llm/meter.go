package llm

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// Price is what a model charges, in US dollars per million tokens.
type Price struct {
	// InputPerMTok is the price of a million input tokens.
	InputPerMTok float64 `yaml:"input_per_mtok" json:"input_per_mtok"`
	// OutputPerMTok is the price of a million output tokens (thinking
	// tokens too, unless ThinkingPerMTok is set).
	OutputPerMTok float64 `yaml:"output_per_mtok" json:"output_per_mtok"`
	// CachedInputPerMTok is the price of a million input tokens served
	// from the provider's context cache; nil: InputPerMTok.
	CachedInputPerMTok *float64 `yaml:"cached_input_per_mtok,omitempty" json:"cached_input_per_mtok,omitempty"`
	// ThinkingPerMTok is the price of a million thinking tokens; nil:
	// OutputPerMTok (Gemini bills thoughts as output).
	ThinkingPerMTok *float64 `yaml:"thinking_per_mtok,omitempty" json:"thinking_per_mtok,omitempty"`
}

// Cost is the price of u: cached input and thinking tokens at their own
// prices when the table has them, the rest at the input and output prices.
func (p Price) Cost(u Usage) float64 {
	cached := min(max(u.CachedInputTokens, 0), u.InputTokens)
	thinking := min(max(u.ThinkingTokens, 0), u.OutputTokens)
	cachedPrice, thinkingPrice := p.InputPerMTok, p.OutputPerMTok
	if p.CachedInputPerMTok != nil {
		cachedPrice = *p.CachedInputPerMTok
	}
	if p.ThinkingPerMTok != nil {
		thinkingPrice = *p.ThinkingPerMTok
	}
	return (float64(u.InputTokens-cached)*p.InputPerMTok + float64(cached)*cachedPrice +
		float64(u.OutputTokens-thinking)*p.OutputPerMTok + float64(thinking)*thinkingPrice) / 1e6
}

// Tally is the metered usage of one model.
type Tally struct {
	// Calls are calls the provider answered (and charged).
	Calls int
	// InputTokens and OutputTokens are the paid calls' tokens.
	InputTokens  int
	OutputTokens int
	// CachedInputTokens and ThinkingTokens are the parts of InputTokens
	// and OutputTokens priced on their own (Usage).
	CachedInputTokens int
	ThinkingTokens    int
	// Errors are calls that ended in an error (after retries).
	Errors int
	// CacheHits are calls answered from the response cache (free).
	CacheHits int
	// Retries are transient failures (each retried while attempts and
	// time remain; the last one of a failed call included).
	Retries int
	// CostUSD is the paid calls' price.
	CostUSD float64
}

// Add returns t + u.
func (t Tally) Add(u Tally) Tally {
	return Tally{Calls: t.Calls + u.Calls, InputTokens: t.InputTokens + u.InputTokens, OutputTokens: t.OutputTokens + u.OutputTokens,
		CachedInputTokens: t.CachedInputTokens + u.CachedInputTokens, ThinkingTokens: t.ThinkingTokens + u.ThinkingTokens,
		Errors: t.Errors + u.Errors, CacheHits: t.CacheHits + u.CacheHits, Retries: t.Retries + u.Retries, CostUSD: t.CostUSD + u.CostUSD}
}

// Spend is one metered call as a Ledger records it: a paid call (Calls 1,
// its tokens and cost) or a cache hit (CacheHits 1).
type Spend struct {
	// Model is the meter key, "provider/model".
	Model string
	// Role is what the call was for: the request's purpose (primary,
	// judge, optimizer) or "embedding".
	Role string
	// Tally is the call's usage.
	Tally Tally
}

// Ledger records metered calls durably. Record is called once per call,
// before its reply is used, with an id unique to the call (the meter's
// attempt and the call's index), so a retried write of one entry counts
// once and two attempts never share an entry.
type Ledger interface {
	Record(ctx context.Context, id string, s Spend) error
}

// Meter counts usage and cost by model key; one meter covers one unit of
// accounting (a batch, an epoch's proposals). It is safe for concurrent use.
// With a Ledger, every paid call and cache hit is also recorded there
// before its reply is returned: the meter's own tallies are lost with the
// invocation, the ledger's entries are not.
type Meter struct {
	// Ledger receives every paid call and cache hit (nil: none).
	Ledger Ledger
	// Attempt names the delivery attempt the meter counts (unique per
	// attempt: each duplicate delivery pays, and is recorded, on its own).
	Attempt string

	calls    atomic.Int64
	recorded atomic.Int64
	mu       sync.Mutex
	by       map[string]Tally
}

// record writes one call to the ledger, if any. The write outlives the
// caller's cancellation: the call was paid for.
func (m *Meter) record(ctx context.Context, key, role string, t Tally) error {
	if m == nil || m.Ledger == nil {
		return nil
	}
	id := fmt.Sprintf("%s-%04d", m.Attempt, m.calls.Add(1))
	if err := m.Ledger.Record(context.WithoutCancel(ctx), id, Spend{Model: key, Role: role, Tally: t}); err != nil {
		return err
	}
	m.recorded.Add(1)
	return nil
}

// Recorded is the number of entries the meter wrote to its ledger.
func (m *Meter) Recorded() int {
	if m == nil {
		return 0
	}
	return int(m.recorded.Load())
}

func (m *Meter) add(key string, t Tally) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.by == nil {
		m.by = map[string]Tally{}
	}
	m.by[key] = m.by[key].Add(t)
}

// ByModel returns a copy of the tallies by model key.
func (m *Meter) ByModel() map[string]Tally {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]Tally, len(m.by))
	for k, v := range m.by {
		out[k] = v
	}
	return out
}

// Total is the sum over every model.
func (m *Meter) Total() Tally {
	var t Tally
	for _, v := range m.ByModel() {
		t = t.Add(v)
	}
	return t
}
