package config

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/promptml/promptml/shared/llm/provider"
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validateOpenAI checks the endpoint settings of a model, which only the
// providers of OpenAI-compatible endpoints (provider.Provider.Endpoint:
// openai) use.
func (m Model) validateOpenAI(path string, bad func(path, format string, args ...any)) {
	if p, _ := provider.Lookup(m.Provider); !p.Endpoint {
		only := strings.Join(provider.Names(func(p provider.Provider) bool { return p.Endpoint }), " and ")
		if m.BaseURL != "" {
			bad(path+".base_url", "is only used by the %s provider", only)
		}
		if m.APIKeyEnv != "" {
			bad(path+".api_key_env", "is only used by the %s provider", only)
		}
		return
	}
	if m.BaseURL == "" {
		bad(path+".base_url", "is required for the %s provider, e.g. http://127.0.0.1:11434/v1", m.Provider)
	} else if u, err := url.Parse(m.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad(path+".base_url", "must be an http(s) URL, got %q", m.BaseURL)
	}
	if m.APIKeyEnv != "" {
		// A run config naming an environment variable let a run send any
		// of the instance's variables to any host (issue 16).
		bad(path+".api_key_env", "is not accepted: a run cannot choose which secret is sent where. The key of an openai endpoint is "+
			"the deployment's (terraform openai_endpoints, from Secret Manager; PROMPTML_OPENAI_ENDPOINTS on the local cloud): remove api_key_env")
	}
}

// validateSpend checks the cache mode, the price table and the budget.
func (r Run) validateSpend(bad func(path, format string, args ...any)) {
	if !contains(cacheModes, r.Cache) {
		bad("cache", "must be one of %s, got %q", strings.Join(cacheModes, ", "), r.Cache)
	}
	names := make([]string, 0, len(r.Prices))
	for n := range r.Prices {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := r.Prices[n]
		fields := []struct {
			name string
			v    float64
		}{{"input_per_mtok", p.InputPerMTok}, {"output_per_mtok", p.OutputPerMTok}}
		if p.CachedInputPerMTok != nil {
			fields = append(fields, struct {
				name string
				v    float64
			}{"cached_input_per_mtok", *p.CachedInputPerMTok})
		}
		if p.ThinkingPerMTok != nil {
			fields = append(fields, struct {
				name string
				v    float64
			}{"thinking_per_mtok", *p.ThinkingPerMTok})
		}
		for _, f := range fields {
			if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
				bad(fmt.Sprintf("prices.%s.%s", n, f.name), "must be a price >= 0, got %v", f.v)
			}
		}
	}
	if r.Budget.MaxUSD < 0 || math.IsNaN(r.Budget.MaxUSD) {
		bad("budget.max_usd", "must be >= 0 (0: no limit), got %v", r.Budget.MaxUSD)
	}
	if r.Budget.MaxCalls < 0 {
		bad("budget.max_calls", "must be >= 0 (0: no limit), got %d", r.Budget.MaxCalls)
	}
	if r.Budget.MaxTokens < 0 {
		bad("budget.max_tokens", "must be >= 0 (0: no limit), got %d", r.Budget.MaxTokens)
	}
	if r.Budget.MaxUSD > 0 {
		// A model without a price would spend "nothing" and the budget
		// would never stop it.
		for _, m := range []struct {
			path string
			m    Model
		}{{"primary", r.Primary}, {"optimizer.model", r.Optimizer.Model}} {
			if _, ok := r.Prices[m.m.Name]; !ok && !free(m.m.Provider) {
				bad("budget.max_usd", "needs a price for %s model %q (add prices.%s)", m.path, m.m.Name, m.m.Name)
			}
		}
	}
}

// free reports whether the provider's calls cost nothing (the simulator).
func free(name string) bool {
	p, ok := provider.Lookup(name)
	return ok && p.Free
}
