package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/llm/openai"
	"github.com/promptml/promptml/shared/llm/sim"
)

// simTestKey is a small answer key.
func simTestKey() *sim.Key {
	return sim.NewKey(map[string]string{
		"Translate to French: good morning": "bonjour",
		"Translate to French: thank you":    "merci",
		"Translate to French: the cat":      "le chat",
	})
}

func simTestModel(errorRate float64) *sim.Model {
	return sim.New(sim.Options{Key: simTestKey(), Seed: 3, ErrorRate: errorRate, RetryAfter: 2 * time.Second})
}

// TestSimServerOpenAIProvider points the project's own openai provider at
// the sim-server and checks that every reply (text, usage, finish reason)
// is what the simulator answers in process.
func TestSimServerOpenAIProvider(t *testing.T) {
	srv := httptest.NewServer(newSimHandler(simTestModel(0)))
	defer srv.Close()
	client, err := openai.New(openai.Options{BaseURL: srv.URL + "/v1", Model: "sim-primary", HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	direct := simTestModel(0)
	zero, warm := 0.0, 0.7
	tests := []struct {
		name string
		req  llm.Request
	}{
		{"primary with the default prompts", llm.Request{System: "You are a helpful assistant.",
			Prompt: "Translate to French: good morning\n\nAnswer the request.", Temperature: &zero}},
		{"primary with instructions", llm.Request{System: "You are a translator.",
			Prompt: "Translate to French: the cat\n\nAnswer the request. Start directly with the answer; do not add a preamble. Do not explain the answer or add any text after it. Do not wrap the answer in quotation marks.", Temperature: &zero}},
		{"no system prompt", llm.Request{Prompt: "Translate to French: thank you\n\nAnswer."}},
		{"unknown input", llm.Request{Prompt: "What is the capital of Peru?", Temperature: &warm}},
		{"max tokens truncates", llm.Request{Prompt: "Translate to French: good morning\n\nAnswer the request.", MaxOutputTokens: 2}},
		{"optimizer role from the model name (no data block: a 400)", llm.Request{Model: "sim-optimizer",
			Prompt: "Improve the prompt.\n\n" + `{"current":{"system_prompt":"s","output_prompt":"o"},"failures":[]}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			got, gotErr := client.Generate(ctx, &tc.req)
			want := tc.req
			if want.Model == "" {
				want.Model = "sim-primary" // the provider's default model
			}
			want.Purpose = "primary"
			if strings.Contains(want.Model, "optimizer") {
				want.Purpose = "optimizer"
			}
			exp, err := direct.Generate(ctx, &want)
			if err != nil {
				// The same failure must come back over HTTP with its code
				// (the optimizer refuses a request without a data block).
				var we, ge *llm.Error
				if !errors.As(err, &we) || !errors.As(gotErr, &ge) || we.Code != ge.Code || we.Kind != ge.Kind ||
					!strings.Contains(ge.Error(), we.Err.Error()) {
					t.Fatalf("in process: %v; over HTTP: %v; want the same classified error", err, gotErr)
				}
				return
			}
			if gotErr != nil {
				t.Fatalf("Generate over HTTP: %v", gotErr)
			}
			finish := map[string]string{"STOP": "stop", "MAX_TOKENS": "length"}[exp.FinishReason]
			exp.FinishReason = finish
			if diff := cmp.Diff(exp, got); diff != "" {
				t.Errorf("reply over HTTP differs from the in-process simulator (-want +got):\n%s", diff)
			}
			if got.Usage.InputTokens == 0 || got.Usage.TotalTokens != got.Usage.InputTokens+got.Usage.OutputTokens {
				t.Errorf("usage = %+v, want input tokens and total = input + output", got.Usage)
			}
		})
	}
}

// TestSimServerRateLimit checks that a simulated 429 reaches the openai
// provider as a transient error with its Retry-After.
func TestSimServerRateLimit(t *testing.T) {
	srv := httptest.NewServer(newSimHandler(simTestModel(0.999)))
	defer srv.Close()
	client, err := openai.New(openai.Options{BaseURL: srv.URL + "/v1", Model: "sim-primary", HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Generate(context.Background(), &llm.Request{Prompt: "Translate to French: the cat\n\nAnswer."})
	var le *llm.Error
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want an *llm.Error", err)
	}
	if le.Kind != llm.Transient || le.Code != http.StatusTooManyRequests || le.RetryAfter != 2*time.Second {
		t.Errorf("error = kind %s code %d retry-after %s, want transient 429 with 2s", le.Kind, le.Code, le.RetryAfter)
	}
}

// TestSimServerHTTP speaks raw HTTP to the handler: both paths, content as
// parts, and the 4xx answers.
func TestSimServerHTTP(t *testing.T) {
	srv := httptest.NewServer(newSimHandler(simTestModel(0)))
	defer srv.Close()
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantInBody string
	}{
		{"v1 path", "POST", "/v1/chat/completions",
			`{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Translate to French: thank you\n\nAnswer."}],"temperature":0}`,
			200, `"object":"chat.completion"`},
		{"path without v1", "POST", "/chat/completions",
			`{"model":"m","messages":[{"role":"user","content":"Translate to French: thank you\n\nAnswer."}]}`,
			200, `"prompt_tokens":`},
		{"content as parts", "POST", "/v1/chat/completions",
			`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"Translate to French: "},{"type":"text","text":"thank you\n\nAnswer."}]}]}`,
			200, `"finish_reason":"stop"`},
		{"models list", "GET", "/v1/models", ``, 200, `"sim-primary"`},
		{"not JSON", "POST", "/v1/chat/completions", `{`, 400, `invalid JSON body`},
		{"no messages", "POST", "/v1/chat/completions", `{"model":"m","messages":[]}`, 400, `at least one message`},
		{"only a system message", "POST", "/v1/chat/completions", `{"messages":[{"role":"system","content":"x"}]}`, 400, `a user message is required`},
		{"streaming", "POST", "/v1/chat/completions", `{"stream":true,"messages":[{"role":"user","content":"x"}]}`, 400, `streaming is not supported`},
		{"image part", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":[{"type":"image_url"}]}]}`, 400, `unsupported content part`},
		{"unknown role", "POST", "/v1/chat/completions", `{"messages":[{"role":"tool","content":"x"}]}`, 400, `unsupported role`},
		{"GET on completions", "GET", "/v1/chat/completions", ``, 405, ``},
		{"unknown path", "POST", "/v1/completions", `{}`, 404, ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.wantStatus, b)
			}
			if !strings.Contains(string(b), tc.wantInBody) {
				t.Errorf("body %s lacks %q", b, tc.wantInBody)
			}
			if tc.wantStatus == 200 && tc.method == "POST" {
				var c chatCompletion
				if err := json.Unmarshal(b, &c); err != nil {
					t.Fatal(err)
				}
				if len(c.Choices) != 1 || c.Choices[0].Message.Role != "assistant" || c.Choices[0].Message.Content == "" {
					t.Errorf("choices = %+v, want one assistant message", c.Choices)
				}
				if c.Usage.TotalTokens != c.Usage.PromptTokens+c.Usage.CompletionTokens || c.Usage.CompletionTokens == 0 {
					t.Errorf("usage = %+v", c.Usage)
				}
			}
		})
	}
}

// TestSimServerCommand runs `promptml sim-server` on a free port: it
// listens on 127.0.0.1, prints its URL first, answers from the --data key
// after at least --latency, and stops when its context ends.
func TestSimServerCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "d.csv")
	if err := os.WriteFile(data, []byte("user_input,ground_truth_output\nTranslate to French: the cat,le chat\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runSimServer(ctx, pw, simServerOptions{data: []string{data}, port: 0, latency: 50 * time.Millisecond, seed: 1, wrongRate: 0})
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the first line: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	f := strings.Fields(line)
	if len(f) < 4 || f[1] != "listening" {
		t.Fatalf("first line %q, want \"sim-server: listening on URL …\"", line)
	}
	u, err := url.Parse(f[3])
	if err != nil || u.Hostname() != "127.0.0.1" || u.Path != "/v1" {
		t.Fatalf("URL %q: want http://127.0.0.1:PORT/v1 (err %v)", f[3], err)
	}
	if !strings.Contains(line, "1 answer-key inputs") {
		t.Errorf("first line %q does not count the key", line)
	}
	client, err := openai.New(openai.Options{BaseURL: f[3], Model: "sim-primary"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	zero := 0.0
	resp, err := client.Generate(ctx, &llm.Request{Prompt: "Translate to French: the cat\n\nAnswer the request. Start directly with the answer; do not add a preamble. Do not explain the answer or add any text after it. Do not wrap the answer in quotation marks. Preserve the exact capitalization the answer calls for.", Temperature: &zero})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Errorf("reply after %s, want at least the 50ms latency", el)
	}
	if resp.Text != "le chat" {
		t.Errorf("reply %q, want the key's answer with every habit instructed away", resp.Text)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("runSimServer: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim-server did not stop")
	}
}

// TestSimServerFlags checks the flag validation.
func TestSimServerFlags(t *testing.T) {
	tests := []struct {
		name string
		o    simServerOptions
		want string
	}{
		{"error rate 1", simServerOptions{errorRate: 1}, "--error-rate"},
		{"negative latency", simServerOptions{latency: -time.Second}, "--latency"},
		{"wrong rate above 1", simServerOptions{wrongRate: 2}, "--wrong-rate"},
		{"missing data file", simServerOptions{data: []string{"/nonexistent/x.csv"}}, "--data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := runSimServer(context.Background(), io.Discard, tc.o)
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != exitUsage || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a usage error about %s", err, tc.want)
			}
		})
	}
}

// TestSimServerStats checks the request and in-flight counters: calls
// held concurrently by the latency show up in the peak.
func TestSimServerStats(t *testing.T) {
	m := sim.New(sim.Options{Key: simTestKey(), Latency: 300 * time.Millisecond})
	srv := httptest.NewServer(newSimHandler(m))
	defer srv.Close()
	client, err := openai.New(openai.Options{BaseURL: srv.URL + "/v1", Model: "sim-primary", HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	errc := make(chan error, n)
	for range n {
		go func() {
			_, err := client.Generate(context.Background(), &llm.Request{Prompt: "Translate to French: the cat\n\nAnswer."})
			errc <- err
		}()
	}
	for range n {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	// A client that gives up before the reply: a request, not an answer.
	gone, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := client.Generate(gone, &llm.Request{Prompt: "Translate to French: the cat\n\nAnswer."}); err == nil {
		t.Fatal("a request whose client gave up after 50 ms was answered")
	}
	time.Sleep(400 * time.Millisecond) // the server's latency runs out
	get := func(q string) simStats {
		resp, err := srv.Client().Get(srv.URL + "/sim/stats" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st simStats
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := get("?reset=1")
	// The four calls overlap unless the scheduler delays one by the whole
	// 300 ms latency, so the peak is at least 2.
	if st.Requests != n+1 || st.InFlight != 0 || st.PeakInFlight < 2 || st.PeakInFlight > n {
		t.Errorf("stats = %+v, want %d requests, none in flight, a peak in 2..%d", st, n+1, n)
	}
	if st.Answered != n || st.AnsweredByModel["sim-primary"] != n || st.AnsweredTokens.TotalTokens == 0 {
		t.Errorf("stats = %+v, want %d answered (sim-primary), with their tokens; the abandoned request not", st, n)
	}
	if diff := cmp.Diff(simStats{}, get(""), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("after reset (-want +got):\n%s", diff)
	}
}
