package openai

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/llm"
)

func TestGenerate(t *testing.T) {
	var got chatRequest
	var auth, path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth, path = r.Header.Get("Authorization"), r.URL.Path
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("request body: %v", err)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"model":"llama3","choices":[{"message":{"role":"assistant","content":"Bonjour"},"finish_reason":"stop"}],
			"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}`)
	}))
	defer srv.Close()
	m, err := New(Options{BaseURL: srv.URL + "/v1/", Model: "llama3", APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	temp := 0.2
	resp, err := m.Generate(t.Context(), &llm.Request{System: "Translate.", Prompt: "Hello", Temperature: &temp, MaxOutputTokens: 50,
		ResponseSchema: map[string]any{"type": "object"}})
	if err != nil {
		t.Fatal(err)
	}
	want := &llm.Response{Text: "Bonjour", Model: "llama3", FinishReason: "stop", Usage: llm.Usage{InputTokens: 12, OutputTokens: 3, TotalTokens: 15}}
	if d := cmp.Diff(want, resp); d != "" {
		t.Errorf("response (-want +got):\n%s", d)
	}
	if path != "/v1/chat/completions" || auth != "Bearer k" {
		t.Errorf("path %q auth %q", path, auth)
	}
	wantReq := chatRequest{Model: "llama3", Messages: []message{{"system", "Translate."}, {"user", "Hello"}}, Temperature: &temp, MaxTokens: 50,
		ResponseFormat: &responseFormat{Type: "json_schema", JSONSchema: map[string]any{"name": "reply", "schema": map[string]any{"type": "object"}}}}
	if d := cmp.Diff(wantReq, got); d != "" {
		t.Errorf("request (-want +got):\n%s", d)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		header     string
		body       string
		kind       llm.Kind
		reason     string
		retryAfter time.Duration
	}{
		{"429 with Retry-After", 429, "2", `{"error":{"message":"rate limit"}}`, llm.Transient, llm.ReasonRateLimited, 2 * time.Second},
		{"503", 503, "", `overloaded`, llm.Transient, llm.ReasonUnavailable, 0},
		{"400 bad request", 400, "", `{"error":{"message":"bad model"}}`, llm.Permanent, llm.ReasonBadRequest, 0},
		{"400 content filter", 400, "", `{"error":{"message":"filtered","code":"content_filter"}}`, llm.Permanent, llm.ReasonContentFilter, 0},
		{"401", 401, "", `{}`, llm.Permanent, llm.ReasonUnauthenticated, 0},
		{"finish content_filter", 200, "", `{"choices":[{"message":{"content":""},"finish_reason":"content_filter"}]}`, llm.Permanent, llm.ReasonContentFilter, 0},
		{"2xx not JSON", 200, "", `<html>`, llm.Transient, llm.ReasonUnknown, 0},
		{"no choices", 200, "", `{"choices":[]}`, llm.Transient, llm.ReasonUnknown, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			m, _ := New(Options{BaseURL: srv.URL, Model: "x"})
			_, err := m.Generate(t.Context(), &llm.Request{Prompt: "hi"})
			var le *llm.Error
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want an *llm.Error", err)
			}
			if le.Kind != tc.kind || le.Reason != tc.reason || le.RetryAfter != tc.retryAfter {
				t.Errorf("got %s/%s retry-after %v, want %s/%s %v", le.Kind, le.Reason, le.RetryAfter, tc.kind, tc.reason, tc.retryAfter)
			}
		})
	}
}

func TestConnectionRefusedIsTransient(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	m, _ := New(Options{BaseURL: url, Model: "x"})
	_, err := m.Generate(t.Context(), &llm.Request{Prompt: "hi"})
	if !llm.IsTransient(err) {
		t.Errorf("err = %v, want transient", err)
	}
}

// TestThroughClient is the provider behind llm.Client: a 429 with
// Retry-After is retried and the second answer is used.
func TestThroughClient(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			w.Header().Set("Retry-After", "0.01")
			w.WriteHeader(429)
			return
		}
		_, _ = io.WriteString(w, `{"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`)
	}))
	defer srv.Close()
	m, _ := New(Options{BaseURL: srv.URL, Model: "x"})
	c := &llm.Client{Next: m, Key: "openai/x", Retry: llm.Retry{Attempts: 3, Base: time.Millisecond}, Limiter: llm.NewLimiter(llm.Limits{})}
	resp, err := c.Generate(t.Context(), &llm.Request{Prompt: "hi"})
	if err != nil || resp.Text != "ok" || calls != 2 {
		t.Errorf("resp %+v err %v after %d calls; want ok after 2", resp, err, calls)
	}
}

// A thinking level is sent as reasoning_effort, and the usage details come
// back as cached input and thinking tokens.
func TestReasoningEffortAndUsageDetails(t *testing.T) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = nil
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("request body: %v", err)
		}
		_, _ = io.WriteString(w, `{"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}],
			"usage":{"prompt_tokens":100,"completion_tokens":40,"total_tokens":140,
			"prompt_tokens_details":{"cached_tokens":64},"completion_tokens_details":{"reasoning_tokens":30}}}`)
	}))
	defer srv.Close()
	m, err := New(Options{BaseURL: srv.URL + "/v1", Model: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := m.Generate(t.Context(), &llm.Request{Prompt: "x", Thinking: &llm.Thinking{Level: "low"}})
	if err != nil {
		t.Fatal(err)
	}
	if got["reasoning_effort"] != "low" {
		t.Errorf("reasoning_effort = %v, want low", got["reasoning_effort"])
	}
	want := llm.Usage{InputTokens: 100, OutputTokens: 40, TotalTokens: 140, CachedInputTokens: 64, ThinkingTokens: 30}
	if resp.Usage != want {
		t.Errorf("usage %+v, want %+v", resp.Usage, want)
	}
	// Without a thinking level nothing is sent: servers that do not know
	// the field are not sent it.
	if _, err := m.Generate(t.Context(), &llm.Request{Prompt: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["reasoning_effort"]; ok {
		t.Errorf("reasoning_effort sent without a thinking level: %v", got)
	}
}

// TestResponseFormatOnTheWire: structured output as the endpoint reads it,
// raw JSON: a schema as response_format json_schema, JSON without one as
// json_object, plain text as no response_format.
func TestResponseFormatOnTheWire(t *testing.T) {
	schema := map[string]any{"type": "object", "properties": map[string]any{"item": map[string]any{"type": "string"}}, "required": []any{"item"}}
	tests := []struct {
		name string
		req  llm.Request
		want any // the response_format member; nil = absent
	}{
		{"schema", llm.Request{Prompt: "hi", ResponseMIMEType: "application/json", ResponseSchema: schema},
			map[string]any{"type": "json_schema", "json_schema": map[string]any{"name": "reply", "schema": schema}}},
		{"json without a schema", llm.Request{Prompt: "hi", ResponseMIMEType: "application/json"}, map[string]any{"type": "json_object"}},
		{"plain text", llm.Request{Prompt: "hi"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body map[string]any
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
					t.Error(err)
				}
				_, _ = io.WriteString(w, `{"choices":[{"message":{"content":"{\"item\":\"x\"}"},"finish_reason":"stop"}]}`)
			}))
			defer srv.Close()
			m, err := New(Options{BaseURL: srv.URL, Model: "x"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Generate(t.Context(), &tt.req); err != nil {
				t.Fatal(err)
			}
			got, ok := body["response_format"]
			if tt.want == nil {
				if ok {
					t.Errorf("response_format = %v, want none", got)
				}
				return
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("response_format (-want +got):\n%s", d)
			}
		})
	}
}
