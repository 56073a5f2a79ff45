package openai

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/logging"
)

// TestKeyNeverInErrorsOrLogs: a server that echoes the request's
// Authorization header and the key in its error reply (as some proxies
// do), and a base URL with a password: neither the key nor the password
// appears in the returned error or in the JSON log of that error.
func TestKeyNeverInErrorsOrLogs(t *testing.T) {
	const key = "sk-test-0123456789abcdefSECRET"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":{"message":"invalid key `+key+` in header `+r.Header.Get("Authorization")+`","code":"invalid_api_key"}}`)
	}))
	defer srv.Close()
	tests := []struct {
		name, baseURL, secret string
	}{
		{"key echoed in the reply", srv.URL + "/v1", key},
		{"password in the base URL", strings.Replace(srv.URL, "http://", "http://user:hunter2-password@", 1) + "/v1", "hunter2-password"},
		{"password in an unreachable base URL", "http://user:hunter2-password@127.0.0.1:1/v1", "hunter2-password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(Options{BaseURL: tt.baseURL, Model: "m", APIKey: key})
			if err != nil {
				t.Fatal(err)
			}
			_, err = m.Generate(t.Context(), &llm.Request{Prompt: "hi"})
			if err == nil {
				t.Fatal("Generate succeeded against a failing server")
			}
			if strings.Contains(err.Error(), tt.secret) || strings.Contains(err.Error(), key) {
				t.Errorf("error shows a secret: %v", err)
			}
			var logs bytes.Buffer
			logging.New(&logs, "debug").Error("llm call failed", "error", err, "url", tt.baseURL)
			if strings.Contains(logs.String(), tt.secret) || strings.Contains(logs.String(), key) {
				t.Errorf("log shows a secret: %s", logs.String())
			}
		})
	}
}
