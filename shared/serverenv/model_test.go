package serverenv

import (
	"strings"
	"testing"

	"github.com/promptml/promptml/shared/config"
)

func TestOpenAIModel(t *testing.T) {
	e := &Env{Config: Config{LLMProvider: "vertex"}}
	m := config.Model{Provider: "openai", Name: "llama3", BaseURL: "http://127.0.0.1:1/v1"}
	g, err := e.Model(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := e.Model(t.Context(), m); again != g {
		t.Error("a second run built a second client for the same endpoint")
	}
	t.Setenv("PROMPTML_TEST_KEY", "")
	m.APIKeyEnv = "PROMPTML_TEST_KEY"
	if _, err := e.Model(t.Context(), m); err == nil || !strings.Contains(err.Error(), "PROMPTML_TEST_KEY") {
		t.Errorf("unset key variable: err %v, want it named", err)
	}
	t.Setenv("PROMPTML_TEST_KEY", "secret")
	if _, err := e.Model(t.Context(), m); err != nil {
		t.Errorf("set key variable: %v", err)
	}
}
