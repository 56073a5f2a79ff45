package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/promptml/promptml/shared/llm/provider"
)

// Allowlist is a deployment's choice of what its runs may call: the
// providers, and for the openai provider the endpoints, each with the
// instance's environment variable that holds its API key (set from Secret
// Manager by Terraform). A run config cannot name a key: the key of an
// endpoint is only ever sent to that endpoint. The zero Allowlist allows
// every provider and openai endpoint, without keys (the local cloud).
type Allowlist struct {
	// Providers a run may name; empty allows all.
	Providers []string
	// OpenAIEndpoints are the openai base URLs a run may name; with
	// Providers empty, any base URL is allowed and these only supply keys.
	OpenAIEndpoints []OpenAIEndpoint
}

// OpenAIEndpoint is an allowed OpenAI-compatible endpoint.
type OpenAIEndpoint struct {
	// BaseURL is the API root as run configs name it, e.g.
	// "https://api.example.com/v1".
	BaseURL string `json:"base_url"`
	// APIKeyEnv is the function instance's environment variable holding
	// the endpoint's key; empty for an endpoint without one.
	APIKeyEnv string `json:"api_key_env"`
}

// ParseAllowlist reads the allowlist of a function instance:
// PROMPTML_ALLOWED_PROVIDERS (comma-separated) and PROMPTML_OPENAI_ENDPOINTS
// (a JSON list of {base_url, api_key_env}).
func ParseAllowlist(allowedProviders, openaiEndpoints string) (Allowlist, error) {
	var a Allowlist
	var errs []error
	for _, p := range strings.Split(allowedProviders, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, ok := provider.Lookup(p); !ok {
			errs = append(errs, fmt.Errorf("PROMPTML_ALLOWED_PROVIDERS: unknown provider %q (known: %s)", p, strings.Join(provider.Names(nil), ", ")))
			continue
		}
		a.Providers = append(a.Providers, p)
	}
	if strings.TrimSpace(openaiEndpoints) != "" {
		if err := json.Unmarshal([]byte(openaiEndpoints), &a.OpenAIEndpoints); err != nil {
			errs = append(errs, fmt.Errorf("PROMPTML_OPENAI_ENDPOINTS: not a JSON list of {base_url, api_key_env}: %w", err))
		}
	}
	for i, e := range a.OpenAIEndpoints {
		if u, err := url.Parse(e.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("PROMPTML_OPENAI_ENDPOINTS[%d]: base_url must be an http(s) URL, got %q", i, e.BaseURL))
		}
		if e.APIKeyEnv != "" && !envName.MatchString(e.APIKeyEnv) {
			errs = append(errs, fmt.Errorf("PROMPTML_OPENAI_ENDPOINTS[%d]: api_key_env must be an environment variable name, got %q", i, e.APIKeyEnv))
		}
	}
	return a, errors.Join(errs...)
}

// NormalizeBaseURL is the form in which base URLs are compared: scheme and
// host lower-cased, no trailing slash.
func NormalizeBaseURL(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" {
		return strings.TrimRight(strings.TrimSpace(s), "/")
	}
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String()
}

// Endpoint finds the allowed endpoint of baseURL.
func (a Allowlist) Endpoint(baseURL string) (OpenAIEndpoint, bool) {
	want := NormalizeBaseURL(baseURL)
	for _, e := range a.OpenAIEndpoints {
		if NormalizeBaseURL(e.BaseURL) == want {
			return e, true
		}
	}
	return OpenAIEndpoint{}, false
}

// Restricted reports whether the allowlist restricts anything.
func (a Allowlist) Restricted() bool { return len(a.Providers) > 0 }

// Check reports the models of r the deployment does not allow, each a
// *FieldError at the model's path (joined; errors.As finds the first).
// The llm_judge judge is the optimizer model, so it is covered.
func (a Allowlist) Check(r Run) error {
	if !a.Restricted() {
		return nil
	}
	var errs []error
	for _, m := range []struct {
		path  string
		model Model
	}{{"primary", r.Primary}, {"optimizer.model", r.Optimizer.Model}} {
		if !slices.Contains(a.Providers, m.model.Provider) {
			errs = append(errs, &FieldError{Path: m.path + ".provider", Reason: fmt.Sprintf(
				"provider %q is not allowed in this deployment (allowed: %s; the operator chooses them with the terraform variable allowed_llm_providers)",
				m.model.Provider, strings.Join(a.Providers, ", "))})
			continue
		}
		if p, _ := provider.Lookup(m.model.Provider); !p.Endpoint {
			continue
		}
		if _, ok := a.Endpoint(m.model.BaseURL); !ok {
			allowed := make([]string, 0, len(a.OpenAIEndpoints))
			for _, e := range a.OpenAIEndpoints {
				allowed = append(allowed, e.BaseURL)
			}
			list := "none"
			if len(allowed) > 0 {
				list = strings.Join(allowed, ", ")
			}
			errs = append(errs, &FieldError{Path: m.path + ".base_url", Reason: fmt.Sprintf(
				"%q is not an openai endpoint of this deployment (allowed: %s; the operator lists them with the terraform variable openai_endpoints)",
				m.model.BaseURL, list)})
		}
	}
	return errors.Join(errs...)
}
