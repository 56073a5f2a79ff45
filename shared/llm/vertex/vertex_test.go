package vertex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/auth"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/genai"

	"github.com/promptml/promptml/shared/llm"
)

const (
	testProject  = "test-project"
	testLocation = "europe-west4"
	testModel    = "gemini-test"
	testToken    = "test-token"
)

// staticToken hands out a fixed token, so no test ever looks for real
// credentials.
type staticToken struct{}

func (staticToken) Token(context.Context) (*auth.Token, error) {
	return &auth.Token{Value: testToken, Type: "Bearer"}, nil
}

// hermetic keeps genai and the auth library away from the environment: the
// variables genai reads (an API key or a base URL there would change the
// request) and the metadata server.
func hermetic(t *testing.T) {
	t.Helper()
	t.Setenv("GCE_METADATA_HOST", "127.0.0.1:1")
	for _, v := range []string{
		"GOOGLE_API_KEY", "GEMINI_API_KEY",
		"GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_CLOUD_REGION",
		"GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE",
		"GOOGLE_VERTEX_BASE_URL", "GOOGLE_GEMINI_BASE_URL",
		"GOOGLE_APPLICATION_CREDENTIALS",
	} {
		t.Setenv(v, "")
	}
	t.Setenv("GOOGLE_API_USE_CLIENT_CERTIFICATE", "false")
}

// recorded is what the fake server saw of one request.
type recorded struct {
	Method, Path, Auth string
	Body               map[string]any
}

// fakeVertex is a Vertex AI endpoint that records each request and answers
// with a fixed status and body.
type fakeVertex struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newFakeVertex(t *testing.T, status int, body string) *fakeVertex {
	t.Helper()
	f := &fakeVertex{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recorded{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization")}
		if err := json.NewDecoder(r.Body).Decode(&rec.Body); err != nil {
			t.Errorf("decode request body: %v", err)
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, rec)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeVertex) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// testOptions points a Model at srv with a static token.
func testOptions(srv *httptest.Server) Options {
	return Options{
		Project:     testProject,
		Location:    testLocation,
		Model:       testModel,
		Credentials: auth.NewCredentials(&auth.CredentialsOptions{TokenProvider: staticToken{}}),
		HTTPClient:  srv.Client(),
		BaseURL:     srv.URL,
	}
}

func newTestModel(t *testing.T, opts Options) *Model {
	t.Helper()
	m, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

const okReply = `{
  "candidates": [{"content": {"role": "model", "parts": [{"text": "Paris"}]}, "finishReason": "STOP"}],
  "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 3, "totalTokenCount": 15},
  "modelVersion": "gemini-test-001"
}`

func ptr[T any](v T) *T { return &v }

func TestNew(t *testing.T) {
	hermetic(t)
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"ok", Options{Project: "p", Model: "m", HTTPClient: http.DefaultClient, BaseURL: "http://127.0.0.1:1"}, ""},
		{"no project", Options{Model: "m", HTTPClient: http.DefaultClient}, "Project is required"},
		{"no model", Options{Project: "p", HTTPClient: http.DefaultClient}, "Model is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(context.Background(), tt.opts)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestGenerateRequest(t *testing.T) {
	hermetic(t)
	schema := map[string]any{
		"type":       "object",
		"properties": map[string]any{"answer": map[string]any{"type": "string"}},
		"required":   []any{"answer"},
	}
	tests := []struct {
		name     string
		location string
		req      *llm.Request
		wantPath string
		wantBody map[string]any
	}{
		{
			name:     "full",
			location: testLocation,
			req: &llm.Request{
				System:          "Answer with a city.",
				Prompt:          "Capital of France?",
				Temperature:     ptr(0.25),
				MaxOutputTokens: 256,
				Seed:            ptr(int64(7)),
				ResponseSchema:  schema,
			},
			wantPath: "/v1beta1/projects/test-project/locations/europe-west4/publishers/google/models/gemini-test:generateContent",
			wantBody: map[string]any{
				"contents": []any{map[string]any{"role": "user", "parts": []any{map[string]any{"text": "Capital of France?"}}}},
				"systemInstruction": map[string]any{
					"role": "user", "parts": []any{map[string]any{"text": "Answer with a city."}},
				},
				"generationConfig": map[string]any{
					"temperature":        0.25,
					"maxOutputTokens":    256.0,
					"seed":               7.0,
					"responseMimeType":   "application/json",
					"responseJsonSchema": schema,
				},
			},
		},
		{
			name:     "JSON reply without a schema",
			location: testLocation,
			req:      &llm.Request{Prompt: "hi", ResponseMIMEType: "application/json"},
			wantPath: "/v1beta1/projects/test-project/locations/europe-west4/publishers/google/models/gemini-test:generateContent",
			wantBody: map[string]any{
				"contents":         []any{map[string]any{"role": "user", "parts": []any{map[string]any{"text": "hi"}}}},
				"generationConfig": map[string]any{"responseMimeType": "application/json"},
			},
		},
		{
			name:     "primary structured output: mime type and schema",
			location: testLocation,
			req:      &llm.Request{Prompt: "hi", ResponseMIMEType: "application/json", ResponseSchema: schema},
			wantPath: "/v1beta1/projects/test-project/locations/europe-west4/publishers/google/models/gemini-test:generateContent",
			wantBody: map[string]any{
				"contents":         []any{map[string]any{"role": "user", "parts": []any{map[string]any{"text": "hi"}}}},
				"generationConfig": map[string]any{"responseMimeType": "application/json", "responseJsonSchema": schema},
			},
		},
		{
			name:     "thinking level",
			location: testLocation,
			req:      &llm.Request{Prompt: "hi", Thinking: &llm.Thinking{Level: "high"}},
			wantPath: "/v1beta1/projects/test-project/locations/europe-west4/publishers/google/models/gemini-test:generateContent",
			wantBody: map[string]any{
				"contents":         []any{map[string]any{"role": "user", "parts": []any{map[string]any{"text": "hi"}}}},
				"generationConfig": map[string]any{"thinkingConfig": map[string]any{"thinkingLevel": "HIGH"}},
			},
		},
		{
			name:     "thinking budget, global location",
			location: "global",
			req:      &llm.Request{Prompt: "hi", Thinking: &llm.Thinking{Budget: ptr(0)}},
			wantPath: "/v1beta1/projects/test-project/locations/global/publishers/google/models/gemini-test:generateContent",
			wantBody: map[string]any{
				"contents":         []any{map[string]any{"role": "user", "parts": []any{map[string]any{"text": "hi"}}}},
				"generationConfig": map[string]any{"thinkingConfig": map[string]any{"thinkingBudget": 0.0}},
			},
		},
		{
			name:     "minimal, default location, model override",
			location: "",
			req:      &llm.Request{Model: "gemini-other", Prompt: "hi"},
			wantPath: "/v1beta1/projects/test-project/locations/us-central1/publishers/google/models/gemini-other:generateContent",
			wantBody: map[string]any{
				"contents":         []any{map[string]any{"role": "user", "parts": []any{map[string]any{"text": "hi"}}}},
				"generationConfig": map[string]any{},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeVertex(t, http.StatusOK, okReply)
			opts := testOptions(srv.Server)
			opts.Location = tt.location
			m := newTestModel(t, opts)
			if _, err := m.Generate(context.Background(), tt.req); err != nil {
				t.Fatalf("Generate: %v", err)
			}
			reqs := srv.requests()
			if len(reqs) != 1 {
				t.Fatalf("server got %d requests, want 1", len(reqs))
			}
			want := recorded{Method: http.MethodPost, Path: tt.wantPath, Auth: "Bearer " + testToken, Body: tt.wantBody}
			if diff := cmp.Diff(want, reqs[0]); diff != "" {
				t.Errorf("request mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGenerateAuth checks both ways the token reaches the request: through
// the middleware New adds to a caller's client, and through the client genai
// builds from the credentials.
func TestGenerateAuth(t *testing.T) {
	hermetic(t)
	tests := []struct {
		name       string
		httpClient bool
	}{
		{"caller's HTTP client", true},
		{"genai's HTTP client", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeVertex(t, http.StatusOK, okReply)
			opts := testOptions(srv.Server)
			if !tt.httpClient {
				opts.HTTPClient = nil
			}
			m := newTestModel(t, opts)
			if tt.httpClient && opts.HTTPClient.Transport != srv.Client().Transport {
				t.Errorf("New changed the caller's HTTP client transport to %T", opts.HTTPClient.Transport)
			}
			if _, err := m.Generate(context.Background(), &llm.Request{Prompt: "hi"}); err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if got, want := srv.requests()[0].Auth, "Bearer "+testToken; got != want {
				t.Errorf("Authorization = %q, want %q", got, want)
			}
		})
	}
}

func TestGenerateResponse(t *testing.T) {
	hermetic(t)
	tests := []struct {
		name  string
		reply string
		want  *llm.Response
	}{
		{
			name:  "text with usage",
			reply: okReply,
			want: &llm.Response{
				Text: "Paris", Model: "gemini-test-001", FinishReason: "STOP",
				Usage: llm.Usage{InputTokens: 12, OutputTokens: 3, TotalTokens: 15},
			},
		},
		{
			name: "json reply",
			reply: `{"candidates": [{"content": {"role": "model", "parts": [{"text": "{\"answer\": \"Paris\"}"}]}, "finishReason": "STOP"}],
			  "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 6, "totalTokenCount": 26}, "modelVersion": "gemini-test-001"}`,
			want: &llm.Response{
				Text: `{"answer": "Paris"}`, Model: "gemini-test-001", FinishReason: "STOP",
				Usage: llm.Usage{InputTokens: 20, OutputTokens: 6, TotalTokens: 26},
			},
		},
		{
			name: "parts joined, thoughts skipped and counted as output",
			reply: `{"candidates": [{"content": {"role": "model", "parts": [{"text": "thinking...", "thought": true}, {"text": "Par"}, {"text": "is"}]}, "finishReason": "STOP"}],
			  "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2, "thoughtsTokenCount": 40, "totalTokenCount": 47}}`,
			want: &llm.Response{
				Text: "Paris", Model: testModel, FinishReason: "STOP",
				Usage: llm.Usage{InputTokens: 5, OutputTokens: 42, TotalTokens: 47, ThinkingTokens: 40},
			},
		},
		{
			name: "cached input tokens counted apart",
			reply: `{"candidates": [{"content": {"role": "model", "parts": [{"text": "Paris"}]}, "finishReason": "STOP"}],
			  "usageMetadata": {"promptTokenCount": 3000, "cachedContentTokenCount": 2048, "candidatesTokenCount": 1, "thoughtsTokenCount": 9, "totalTokenCount": 3010}}`,
			want: &llm.Response{
				Text: "Paris", Model: testModel, FinishReason: "STOP",
				Usage: llm.Usage{InputTokens: 3000, CachedInputTokens: 2048, OutputTokens: 10, ThinkingTokens: 9, TotalTokens: 3010},
			},
		},
		{
			name:  "max tokens keeps partial text",
			reply: `{"candidates": [{"content": {"role": "model", "parts": [{"text": "Par"}]}, "finishReason": "MAX_TOKENS"}]}`,
			want:  &llm.Response{Text: "Par", Model: testModel, FinishReason: "MAX_TOKENS"},
		},
		{
			name:  "max tokens with no text is not an error",
			reply: `{"candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS"}]}`,
			want:  &llm.Response{Model: testModel, FinishReason: "MAX_TOKENS"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeVertex(t, http.StatusOK, tt.reply)
			m := newTestModel(t, testOptions(srv.Server))
			got, err := m.Generate(context.Background(), &llm.Request{Prompt: "Capital of France?"})
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("response mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// errShape is the part of an *llm.Error the tests compare.
type errShape struct {
	Kind   llm.Kind
	Code   int
	Reason string
}

func shapeOf(t *testing.T, err error) errShape {
	t.Helper()
	var e *llm.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *llm.Error", err, err)
	}
	return errShape{e.Kind, e.Code, e.Reason}
}

func googleError(code int, status, message string) string {
	return fmt.Sprintf(`{"error": {"code": %d, "message": %q, "status": %q}}`, code, message, status)
}

func TestGenerateErrors(t *testing.T) {
	hermetic(t)
	tests := []struct {
		name    string
		status  int
		reply   string
		want    errShape
		wantMsg string
	}{
		{
			name:    "prompt blocked",
			status:  http.StatusOK,
			reply:   `{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT", "blockReasonMessage": "nope"}, "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}}`,
			want:    errShape{llm.Permanent, 0, "safety"},
			wantMsg: "PROHIBITED_CONTENT: nope",
		},
		{
			name:    "reply finished for safety",
			status:  http.StatusOK,
			reply:   `{"candidates": [{"finishReason": "SAFETY", "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": true}]}]}`,
			want:    errShape{llm.Permanent, 0, "safety"},
			wantMsg: "SAFETY",
		},
		{
			name:    "reply finished for recitation",
			status:  http.StatusOK,
			reply:   `{"candidates": [{"content": {"role": "model", "parts": [{"text": "It was"}]}, "finishReason": "RECITATION"}]}`,
			want:    errShape{llm.Permanent, 0, "recitation"},
			wantMsg: "RECITATION",
		},
		{
			name:    "no candidates",
			status:  http.StatusOK,
			reply:   `{"usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}}`,
			want:    errShape{llm.Permanent, 0, "safety"},
			wantMsg: "no candidates",
		},
		{
			name:    "429",
			status:  http.StatusTooManyRequests,
			reply:   googleError(429, "RESOURCE_EXHAUSTED", "Resource exhausted. Please try again later."),
			want:    errShape{llm.Transient, 429, "rate_limited"},
			wantMsg: "RESOURCE_EXHAUSTED",
		},
		{
			name:    "503",
			status:  http.StatusServiceUnavailable,
			reply:   googleError(503, "UNAVAILABLE", "The service is currently unavailable."),
			want:    errShape{llm.Transient, 503, "unavailable"},
			wantMsg: "UNAVAILABLE",
		},
		{
			name:   "500",
			status: http.StatusInternalServerError,
			reply:  googleError(500, "INTERNAL", "Internal error encountered."),
			want:   errShape{llm.Transient, 500, "unavailable"},
		},
		{
			name:   "504",
			status: http.StatusGatewayTimeout,
			reply:  googleError(504, "DEADLINE_EXCEEDED", "Deadline exceeded."),
			want:   errShape{llm.Transient, 504, "deadline"},
		},
		{
			name:    "400",
			status:  http.StatusBadRequest,
			reply:   googleError(400, "INVALID_ARGUMENT", "Unable to submit request because it has an empty text parameter."),
			want:    errShape{llm.Permanent, 400, "bad_request"},
			wantMsg: "INVALID_ARGUMENT",
		},
		{
			name:    "403",
			status:  http.StatusForbidden,
			reply:   googleError(403, "PERMISSION_DENIED", "Permission 'aiplatform.endpoints.predict' denied."),
			want:    errShape{llm.Permanent, 403, "permission_denied"},
			wantMsg: "PERMISSION_DENIED",
		},
		{
			name:   "404",
			status: http.StatusNotFound,
			reply:  googleError(404, "NOT_FOUND", "Publisher Model was not found."),
			want:   errShape{llm.Permanent, 404, "not_found"},
		},
		{
			name:   "plain text 502 from a proxy",
			status: http.StatusBadGateway,
			reply:  "upstream connect error",
			want:   errShape{llm.Transient, 502, "unavailable"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeVertex(t, tt.status, tt.reply)
			m := newTestModel(t, testOptions(srv.Server))
			_, err := m.Generate(context.Background(), &llm.Request{Prompt: "hi"})
			if err == nil {
				t.Fatal("Generate succeeded, want an error")
			}
			if diff := cmp.Diff(tt.want, shapeOf(t, err)); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s\nerror: %v", diff, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			// genai must not retry on its own: the pipeline owns retries.
			if n := len(srv.requests()); n != 1 {
				t.Errorf("server got %d requests, want 1", n)
			}
		})
	}
}

func TestGenerateTransportErrors(t *testing.T) {
	hermetic(t)
	tests := []struct {
		name    string
		handler http.HandlerFunc
		timeout time.Duration
		cancel  bool
		want    errShape
	}{
		{
			name: "connection reset",
			handler: func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err != nil {
					t.Errorf("hijack: %v", err)
					return
				}
				// Linger 0 makes Close send a RST, as a dropped connection does.
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			},
			want: errShape{llm.Transient, 0, "network"},
		},
		{
			name: "timeout",
			handler: func(w http.ResponseWriter, r *http.Request) {
				// Reading the body lets the server notice the client hanging
				// up, which cancels r.Context().
				io.Copy(io.Discard, r.Body)
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
			},
			timeout: 50 * time.Millisecond,
			want:    errShape{llm.Transient, 0, "deadline"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			t.Cleanup(srv.Close)
			opts := testOptions(srv)
			opts.Timeout = tt.timeout
			m := newTestModel(t, opts)
			_, err := m.Generate(context.Background(), &llm.Request{Prompt: "hi"})
			if err == nil {
				t.Fatal("Generate succeeded, want an error")
			}
			if diff := cmp.Diff(tt.want, shapeOf(t, err)); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s\nerror: %v", diff, err)
			}
		})
	}
}

func TestGenerateCanceled(t *testing.T) {
	hermetic(t)
	srv := newFakeVertex(t, http.StatusOK, okReply)
	m := newTestModel(t, testOptions(srv.Server))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := m.Generate(ctx, &llm.Request{Prompt: "hi"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Generate error = %v, want context.Canceled", err)
	}
	var e *llm.Error
	if errors.As(err, &e) {
		t.Errorf("a canceled call was classified: %v", e)
	}
}

func TestGenerateNilRequest(t *testing.T) {
	hermetic(t)
	srv := newFakeVertex(t, http.StatusOK, okReply)
	m := newTestModel(t, testOptions(srv.Server))
	_, err := m.Generate(context.Background(), nil)
	if diff := cmp.Diff(errShape{llm.Permanent, 0, "bad_request"}, shapeOf(t, err)); diff != "" {
		t.Errorf("error mismatch (-want +got):\n%s", diff)
	}
}

func TestClassify(t *testing.T) {
	opErr := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	tests := []struct {
		name string
		err  error
		want errShape
	}{
		{"api error wrapped", fmt.Errorf("call: %w", genai.APIError{Code: 429}), errShape{llm.Transient, 429, "rate_limited"}},
		{"408", genai.APIError{Code: 408}, errShape{llm.Transient, 408, "deadline"}},
		{"401", genai.APIError{Code: 401}, errShape{llm.Permanent, 401, "unauthenticated"}},
		{"other 4xx", genai.APIError{Code: 413}, errShape{llm.Permanent, 413, "client_error"}},
		{"other 5xx", genai.APIError{Code: 599}, errShape{llm.Transient, 599, "unavailable"}},
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), errShape{llm.Transient, 0, "deadline"}},
		{"connection reset", fmt.Errorf("call: %w", opErr), errShape{llm.Transient, 0, "network"}},
		{"unexpected EOF", fmt.Errorf("call: %w", io.ErrUnexpectedEOF), errShape{llm.Transient, 0, "network"}},
		{"blocked", &blockedError{reason: "safety", detail: "x"}, errShape{llm.Permanent, 0, "safety"}},
		{"unknown", errors.New("boom"), errShape{llm.Transient, 0, "unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.err)
			if diff := cmp.Diff(tt.want, shapeOf(t, got)); diff != "" {
				t.Errorf("classify mismatch (-want +got):\n%s", diff)
			}
			// Compared by text: genai.APIError is not comparable, so errors.Is
			// cannot find it.
			if e := got.(*llm.Error); e.Err.Error() != tt.err.Error() {
				t.Errorf("classify(%v) wraps %v, want the original error", tt.err, e.Err)
			}
		})
	}
	t.Run("nil", func(t *testing.T) {
		if got := classify(nil); got != nil {
			t.Errorf("classify(nil) = %v, want nil", got)
		}
	})
	t.Run("canceled passes through", func(t *testing.T) {
		err := fmt.Errorf("call: %w", context.Canceled)
		if got := classify(err); got != err {
			t.Errorf("classify(canceled) = %v, want it unchanged", got)
		}
	})
}

func TestGenerateRetryInfo(t *testing.T) {
	hermetic(t)
	reply := `{"error": {"code": 429, "message": "Resource exhausted.", "status": "RESOURCE_EXHAUSTED",
		"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]}}`
	f := newFakeVertex(t, http.StatusTooManyRequests, reply)
	m := newTestModel(t, testOptions(f.Server))
	_, err := m.Generate(t.Context(), &llm.Request{Prompt: "hi"})
	var le *llm.Error
	if !errors.As(err, &le) || le.Code != 429 || le.RetryAfter != 7*time.Second {
		t.Fatalf("err = %#v, want a 429 asking for 7s", err)
	}
}
