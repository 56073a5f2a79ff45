package serverenv

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/llm"
)

// The openai provider takes its key from the deployment's endpoint list
// (issue 16; before, from an environment variable the run config named),
// sends it to that endpoint only, and refuses endpoints the list lacks.
func TestOpenAIModel(t *testing.T) {
	var mu sync.Mutex
	auth := map[string]string{} // server -> Authorization seen
	server := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			auth[name] = r.Header.Get("Authorization")
			mu.Unlock()
			_, _ = io.WriteString(w, `{"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}]}`)
		}))
	}
	keyed, other := server("keyed"), server("other")
	defer keyed.Close()
	defer other.Close()

	c := Config{LLMProvider: "vertex", AllowedProviders: "vertex,openai",
		OpenAIEndpoints: `[{"base_url":"` + keyed.URL + `/v1","api_key_env":"PROMPTML_TEST_KEY"}]`}
	allow, err := c.allowlist()
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{Config: c, allow: allow}
	m := config.Model{Provider: "openai", Name: "llama3", BaseURL: keyed.URL + "/v1"}

	t.Setenv("PROMPTML_TEST_KEY", "")
	if _, err := e.Model(t.Context(), m); err == nil || !strings.Contains(err.Error(), "PROMPTML_TEST_KEY") {
		t.Errorf("key variable unset: err %v, want it named", err)
	}
	t.Setenv("PROMPTML_TEST_KEY", "secret")
	g, err := e.Model(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := e.Model(t.Context(), config.Model{Provider: "openai", Name: "llama3", BaseURL: keyed.URL + "/v1/"}); again != g {
		t.Error("the same endpoint (trailing slash aside) built a second client")
	}
	if _, err := g.Generate(t.Context(), &llm.Request{Prompt: "hi"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Model(t.Context(), config.Model{Provider: "openai", Name: "llama3", BaseURL: other.URL + "/v1"}); err == nil ||
		!strings.Contains(err.Error(), "not allowed") {
		t.Errorf("unlisted endpoint: err %v, want not allowed", err)
	}
	// Unrestricted (the local cloud): any endpoint, and no key unless listed.
	local := &Env{Config: Config{LLMProvider: "sim"}}
	lg, err := local.Model(t.Context(), config.Model{Provider: "openai", Name: "llama3", BaseURL: other.URL + "/v1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lg.Generate(t.Context(), &llm.Request{Prompt: "hi"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if auth["keyed"] != "Bearer secret" || auth["other"] != "" {
		t.Errorf("Authorization seen: %q", auth)
	}
}

func TestAllowlistDefaults(t *testing.T) {
	for _, tt := range []struct {
		c        Config
		provider string
		allowed  bool
	}{
		{Config{LLMProvider: "vertex"}, "openai", false}, // a deployment without the variable: vertex only
		{Config{LLMProvider: "vertex"}, "vertex", true},
		{Config{LLMProvider: "sim"}, "openai", true}, // the local cloud: unrestricted
		{Config{LLMProvider: "vertex", AllowedProviders: "openai"}, "vertex", false},
	} {
		a, err := tt.c.allowlist()
		if err != nil {
			t.Fatal(err)
		}
		r := config.Defaults()
		r.Primary = config.Model{Provider: tt.provider, Name: "m", BaseURL: "https://x/v1"}
		r.Optimizer.Model = r.Primary
		if err := a.Check(r); (err == nil) != tt.allowed {
			t.Errorf("%+v: %s allowed = %v (%v)", tt.c, tt.provider, err == nil, err)
		}
	}
	if err := (Config{Project: "p", DatasetsBucket: "d", ArtifactsBucket: "a", BatchesTopic: "b", PhaseDoneTopic: "p",
		LLMProvider: "vertex", AllowedProviders: "vertex,claude", BatchTimeout: 1e9, Lease: 1e9}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "claude") {
		t.Errorf("Validate with an unknown provider = %v", err)
	}
}
