package llm

import (
	"sync"
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

// Meter counts usage and cost by model key; one meter covers one unit of
// accounting (a batch, an epoch's proposals). It is safe for concurrent use.
type Meter struct {
	mu sync.Mutex
	by map[string]Tally
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
