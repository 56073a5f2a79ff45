package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAllowlist(t *testing.T) {
	a, err := ParseAllowlist("vertex, openai", `[{"base_url":"https://api.example.com/v1/","api_key_env":"PROMPTML_OPENAI_KEY_0"},{"base_url":"http://10.0.0.7:8000/v1","api_key_env":""}]`)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Providers) != 2 || len(a.OpenAIEndpoints) != 2 || !a.Restricted() {
		t.Fatalf("allowlist %+v", a)
	}
	// Compared on the normalized URL: case of scheme and host, trailing slash.
	e, ok := a.Endpoint("HTTPS://API.example.com/v1")
	if !ok || e.APIKeyEnv != "PROMPTML_OPENAI_KEY_0" {
		t.Errorf("Endpoint = %+v, %v", e, ok)
	}
	if _, ok := a.Endpoint("https://api.example.com/v2"); ok {
		t.Error("another path matched")
	}
	if _, ok := a.Endpoint("https://api.example.com.evil.test/v1"); ok {
		t.Error("another host matched")
	}
	for _, tt := range []struct{ providers, endpoints, mention string }{
		{"vertex,anthropic", "", "anthropic"},
		{"", "{not json", "PROMPTML_OPENAI_ENDPOINTS"},
		{"", `[{"base_url":"ftp://h"}]`, "base_url"},
		{"", `[{"base_url":"https://h","api_key_env":"A B"}]`, "api_key_env"},
	} {
		if _, err := ParseAllowlist(tt.providers, tt.endpoints); err == nil || !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("ParseAllowlist(%q, %q) = %v, want an error naming %s", tt.providers, tt.endpoints, err, tt.mention)
		}
	}
	if a, err := ParseAllowlist("", ""); err != nil || a.Restricted() {
		t.Errorf("empty allowlist = %+v, %v; want unrestricted", a, err)
	}
}

// A run config outside the allowlist is refused with the field and what
// the deployment allows.
func TestAllowlistCheck(t *testing.T) {
	a := Allowlist{Providers: []string{"vertex", "openai"}, OpenAIEndpoints: []OpenAIEndpoint{{BaseURL: "https://llm.internal.example/v1", APIKeyEnv: "PROMPTML_OPENAI_KEY_0"}}}
	load := func(t *testing.T, data string) Run {
		t.Helper()
		r, err := Load(Layer{Data: []byte(data)})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tt := range []struct {
		name, data string
		path       string // "" = allowed
		mention    string
	}{
		{"vertex", "primary: {provider: vertex, name: gemini-3.1-flash-lite}\noptimizer: {model: {provider: vertex, name: gemini-3.8-flash}}\n", "", ""},
		{"allowed endpoint", "primary: {provider: openai, name: m, base_url: 'https://llm.internal.example/v1/'}\noptimizer: {model: {provider: vertex, name: g}}\n", "", ""},
		{"the simulator", "primary: {provider: vertex, name: g}\n", "optimizer.model.provider", "allowed_llm_providers"},
		{"another host", "primary: {provider: openai, name: m, base_url: 'https://attacker.example/v1'}\noptimizer: {model: {provider: vertex, name: g}}\n",
			"primary.base_url", "https://llm.internal.example/v1"},
		{"optimizer elsewhere", "primary: {provider: vertex, name: g}\noptimizer: {model: {provider: openai, name: m, base_url: 'http://127.0.0.1:11434/v1'}}\n",
			"optimizer.model.base_url", "openai_endpoints"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := a.Check(load(t, tt.data))
			if tt.path == "" {
				if err != nil {
					t.Errorf("Check = %v, want allowed", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Path != tt.path || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("Check = %v, want an error at %s mentioning %q", err, tt.path, tt.mention)
			}
		})
	}
	// Unrestricted (the local cloud): anything goes.
	if err := (Allowlist{}).Check(load(t, "primary: {provider: openai, name: m, base_url: 'http://x/v1'}\n")); err != nil {
		t.Errorf("unrestricted Check = %v", err)
	}
	// Only openai allowed, no endpoint listed: every base URL is refused.
	if err := (Allowlist{Providers: []string{"openai"}}).Check(load(t, "primary: {provider: openai, name: m, base_url: 'http://x/v1'}\noptimizer: {model: {provider: openai, name: m, base_url: 'http://x/v1'}}\n")); err == nil || !strings.Contains(err.Error(), "allowed: none") {
		t.Errorf("no endpoints: Check = %v", err)
	}
}
