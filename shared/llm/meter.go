package llm

import (
	"sync"
)

// Price is what a model charges, in US dollars per million tokens.
type Price struct {
	// InputPerMTok is the price of a million input tokens.
	InputPerMTok float64 `yaml:"input_per_mtok" json:"input_per_mtok"`
	// OutputPerMTok is the price of a million output tokens (thinking
	// tokens included).
	OutputPerMTok float64 `yaml:"output_per_mtok" json:"output_per_mtok"`
}

// Cost is the price of u.
func (p Price) Cost(u Usage) float64 {
	return (float64(u.InputTokens)*p.InputPerMTok + float64(u.OutputTokens)*p.OutputPerMTok) / 1e6
}

// Tally is the metered usage of one model.
type Tally struct {
	// Calls are calls the provider answered (and charged).
	Calls int
	// InputTokens and OutputTokens are the paid calls' tokens.
	InputTokens  int
	OutputTokens int
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
