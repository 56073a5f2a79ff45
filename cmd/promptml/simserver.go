package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/llm/sim"
)

// simServerOptions are the flags of `promptml sim-server`.
type simServerOptions struct {
	data       []string
	port       int
	latency    time.Duration
	seed       int64
	wrongRate  float64
	errorRate  float64
	retryAfter time.Duration
}

// newSimServerCmd returns `promptml sim-server`.
func newSimServerCmd() *cobra.Command {
	var o simServerOptions
	cmd := &cobra.Command{
		Use:   "sim-server --data FILE.csv [--data FILE.csv ...] [--latency 200ms] [--port N]",
		Short: "Serve the LLM simulator as an OpenAI-compatible chat-completions endpoint on 127.0.0.1",
		Long: `Serve the offline simulator (docs/simulator.md) over HTTP as an
OpenAI-compatible endpoint: POST /v1/chat/completions (also
/chat/completions), so promptml's openai provider, promptfoo or any other
OpenAI client can be pointed at the same deterministic model.

The answer key is the user_input,ground_truth_output rows of the --data CSVs.
System (and developer) messages are the system instruction; the other
messages, joined by blank lines, are the user content. A model name that
contains "optimizer" gets the optimizer role, any other the primary role.
Every reply waits --latency first (a simulated 429, with --error-rate,
answers at once) and reports usage tokens (characters / 4, rounded up).
GET /sim/stats counts the requests, the most in flight at once, and the
replies answered (a 200 flushed to a client still connected: what a
provider would charge), by model and in tokens (?reset=1 restarts the
counts).

It listens on 127.0.0.1 only and prints its base URL on the first line of
standard output ("sim-server: listening on http://127.0.0.1:PORT/v1 …"),
which is how a script that passes --port 0 finds the port.`,
		Example: `  promptml sim-server --data samples/translation-fr.csv --latency 200ms --port 8090
  curl -s http://127.0.0.1:8090/v1/chat/completions -d '{"model":"sim-primary","messages":[{"role":"user","content":"Hello\n\nAnswer the request."}]}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runSimServer(ctx, cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.data, "data", nil, "dataset CSV whose user_input,ground_truth_output rows are the answer key (repeatable)")
	f.IntVar(&o.port, "port", 8090, "port on 127.0.0.1 (0 picks a free one)")
	f.DurationVar(&o.latency, "latency", 0, "fixed latency of every reply, e.g. 200ms")
	f.Int64Var(&o.seed, "seed", 1, "seed of every simulated decision")
	f.Float64Var(&o.wrongRate, "wrong-rate", sim.DefaultWrongRate, "share of inputs answered wrongly whatever the prompt (0 = never)")
	f.Float64Var(&o.errorRate, "error-rate", 0, "share of calls failing with a 429")
	f.DurationVar(&o.retryAfter, "retry-after", 0, "Retry-After of the simulated 429s (0: none)")
	return cmd
}

// runSimServer loads the answer key, listens on 127.0.0.1 and serves until
// ctx ends.
func runSimServer(ctx context.Context, out io.Writer, o simServerOptions) error {
	if o.errorRate < 0 || o.errorRate >= 1 {
		return &exitError{exitUsage, fmt.Errorf("--error-rate must be in [0,1), got %v", o.errorRate)}
	}
	if o.wrongRate < 0 || o.wrongRate > 1 {
		return &exitError{exitUsage, fmt.Errorf("--wrong-rate must be in [0,1], got %v", o.wrongRate)}
	}
	if o.latency < 0 {
		return &exitError{exitUsage, fmt.Errorf("--latency must not be negative, got %s", o.latency)}
	}
	key, err := loadSimKey(o.data)
	if err != nil {
		return &exitError{exitUsage, err}
	}
	wrong := o.wrongRate
	if wrong == 0 {
		wrong = -1 // sim.Options: 0 means the default, negative means never
	}
	model := sim.New(sim.Options{Key: key, WrongRate: wrong, Seed: o.seed, Latency: o.latency,
		ErrorRate: o.errorRate, RetryAfter: o.retryAfter})

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.port)))
	if err != nil {
		return fmt.Errorf("sim-server: %w", err)
	}
	srv := &http.Server{Handler: newSimHandler(model), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "sim-server: listening on http://%s/v1 (latency %s, %d answer-key inputs)\n", ln.Addr(), o.latency, key.Len())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("sim-server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}

// loadSimKey builds the answer key from dataset CSVs, merged in the order
// given (the first row of a repeated input wins).
func loadSimKey(paths []string) (*sim.Key, error) {
	pairs := map[string]string{}
	for _, p := range paths {
		fh, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("--data: %w", err)
		}
		got, err := sim.ParseCSV(fh)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("--data %s: %w", p, err)
		}
		for in, truth := range got {
			if _, dup := pairs[in]; !dup {
				pairs[in] = truth
			}
		}
	}
	return sim.NewKey(pairs), nil
}

// generator is what the sim handler serves.
type generator interface {
	Generate(ctx context.Context, req *llm.Request) (*llm.Response, error)
}

// simHandler serves the OpenAI chat-completions API over a generator.
type simHandler struct {
	model generator
	seq   atomic.Uint64

	// Counters of GET /sim/stats: a benchmark checks with them that a
	// client really kept its calls in flight.
	mu       sync.Mutex
	requests int
	inFlight int
	peak     int
	// answered counts the replies a client received, by model, and their
	// tokens: what a provider would charge.
	answered       map[string]int
	answeredTokens chatUsage
}

// simStats is the body of GET /sim/stats.
type simStats struct {
	// Requests is the number of chat-completion requests since the last
	// reset.
	Requests int `json:"requests"`
	// InFlight is the number being answered now.
	InFlight int `json:"in_flight"`
	// PeakInFlight is the most answered at once since the last reset.
	PeakInFlight int `json:"peak_in_flight"`
	// Answered is the number of 200 replies written in full to a client
	// still connected (the calls a provider would charge), and
	// AnsweredByModel the same by request model; AnsweredTokens are their
	// tokens.
	Answered        int            `json:"answered"`
	AnsweredByModel map[string]int `json:"answered_by_model"`
	AnsweredTokens  chatUsage      `json:"answered_tokens"`
}

func newSimHandler(m generator) http.Handler {
	h := &simHandler{model: m}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", h.completions)
	mux.HandleFunc("POST /chat/completions", h.completions)
	mux.HandleFunc("GET /v1/models", h.models)
	mux.HandleFunc("GET /models", h.models)
	mux.HandleFunc("GET /sim/stats", h.stats)
	return mux
}

// chatMessage is one message of a chat-completions request. Content is a
// string or an array of parts ({"type":"text","text":…}).
type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// chatCompletionRequest is the part of the OpenAI request the simulator
// reads.
type chatCompletionRequest struct {
	Model               string        `json:"model"`
	Messages            []chatMessage `json:"messages"`
	Temperature         *float64      `json:"temperature"`
	MaxTokens           int           `json:"max_tokens"`
	MaxCompletionTokens int           `json:"max_completion_tokens"`
	Seed                *int64        `json:"seed"`
	Stream              bool          `json:"stream"`
	ResponseFormat      *struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Schema map[string]any `json:"schema"`
		} `json:"json_schema"`
	} `json:"response_format"`
}

// chatCompletion is the reply body.
type chatCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   chatUsage    `json:"usage"`
}

type chatChoice struct {
	Index        int          `json:"index"`
	Message      replyMessage `json:"message"`
	FinishReason string       `json:"finish_reason"`
}

type replyMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// maxRequestBytes bounds a request body (a prompt with few-shot
// demonstrations is a few kilobytes; an optimizer request some more).
const maxRequestBytes = 8 << 20

func (h *simHandler) completions(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.requests++
	h.inFlight++
	h.peak = max(h.peak, h.inFlight)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.inFlight--
		h.mu.Unlock()
	}()
	var body chatCompletionRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxRequestBytes))
	if err := dec.Decode(&body); err != nil {
		writeAPIError(w, http.StatusBadRequest, "invalid_request_error", "invalid JSON body: "+err.Error(), 0)
		return
	}
	req, err := body.toRequest()
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "invalid_request_error", err.Error(), 0)
		return
	}
	resp, err := h.model.Generate(r.Context(), req)
	if err != nil {
		var le *llm.Error
		switch {
		case r.Context().Err() != nil:
			return // the client went away
		case errors.As(err, &le) && le.Code != 0:
			kind := "server_error"
			if le.Code == http.StatusTooManyRequests {
				kind = "rate_limit_exceeded"
			} else if le.Code/100 == 4 {
				kind = "invalid_request_error"
			}
			writeAPIError(w, le.Code, kind, err.Error(), le.RetryAfter)
		default:
			writeAPIError(w, http.StatusInternalServerError, "server_error", err.Error(), 0)
		}
		return
	}
	finish := "stop"
	if resp.FinishReason == "MAX_TOKENS" {
		finish = "length"
	}
	out := chatCompletion{
		ID:      "chatcmpl-sim-" + strconv.FormatUint(h.seq.Add(1), 10),
		Object:  "chat.completion",
		Created: time.Now().Unix(),
		Model:   resp.Model,
		Choices: []chatChoice{{Message: replyMessage{Role: "assistant", Content: resp.Text}, FinishReason: finish}},
		Usage: chatUsage{PromptTokens: resp.Usage.InputTokens, CompletionTokens: resp.Usage.OutputTokens,
			TotalTokens: resp.Usage.TotalTokens},
	}
	w.Header().Set("Content-Type", "application/json")
	// Counted as answered only once the reply is flushed to a client that
	// is still there: a reply the client never read is not a call it pays.
	if err := json.NewEncoder(w).Encode(out); err != nil {
		return
	}
	if err := http.NewResponseController(w).Flush(); err != nil || r.Context().Err() != nil {
		return
	}
	h.mu.Lock()
	if h.answered == nil {
		h.answered = map[string]int{}
	}
	h.answered[body.Model]++
	h.answeredTokens.PromptTokens += out.Usage.PromptTokens
	h.answeredTokens.CompletionTokens += out.Usage.CompletionTokens
	h.answeredTokens.TotalTokens += out.Usage.TotalTokens
	h.mu.Unlock()
}

// toRequest maps a chat-completions request onto an llm.Request.
func (b *chatCompletionRequest) toRequest() (*llm.Request, error) {
	if b.Stream {
		return nil, errors.New("stream: streaming is not supported by the simulator")
	}
	if len(b.Messages) == 0 {
		return nil, errors.New("messages: at least one message is required")
	}
	var system, user []string
	for i, m := range b.Messages {
		text, err := messageText(m.Content)
		if err != nil {
			return nil, fmt.Errorf("messages[%d].content: %w", i, err)
		}
		switch m.Role {
		case "system", "developer":
			system = append(system, text)
		case "user", "assistant":
			user = append(user, text)
		default:
			return nil, fmt.Errorf("messages[%d].role: unsupported role %q", i, m.Role)
		}
	}
	if len(user) == 0 {
		return nil, errors.New("messages: a user message is required")
	}
	req := &llm.Request{
		Model:           b.Model,
		System:          strings.Join(system, "\n\n"),
		Prompt:          strings.Join(user, "\n\n"),
		Temperature:     b.Temperature,
		MaxOutputTokens: b.MaxTokens,
		Seed:            b.Seed,
		Purpose:         "primary",
	}
	if b.MaxCompletionTokens > 0 {
		req.MaxOutputTokens = b.MaxCompletionTokens
	}
	if strings.Contains(strings.ToLower(b.Model), "optimizer") {
		req.Purpose = "optimizer"
	}
	if rf := b.ResponseFormat; rf != nil && rf.JSONSchema != nil {
		req.ResponseSchema = rf.JSONSchema.Schema
	}
	return req, nil
}

// messageText reads a message content: a JSON string, an array of text
// parts, or null.
func messageText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("want a string or an array of text parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type != "text" {
			return "", fmt.Errorf("unsupported content part type %q", p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

// stats serves GET /sim/stats; with ?reset=1 it also restarts the counts
// (the peak restarts at the calls in flight now).
func (h *simHandler) stats(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	st := simStats{Requests: h.requests, InFlight: h.inFlight, PeakInFlight: h.peak,
		AnsweredByModel: map[string]int{}, AnsweredTokens: h.answeredTokens}
	for m, n := range h.answered {
		st.AnsweredByModel[m] = n
		st.Answered += n
	}
	if r.URL.Query().Get("reset") == "1" {
		h.requests, h.peak = 0, h.inFlight
		h.answered, h.answeredTokens = nil, chatUsage{}
	}
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

func (h *simHandler) models(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"object":"list","data":[{"id":"sim-primary","object":"model","owned_by":"promptml"},{"id":"sim-optimizer","object":"model","owned_by":"promptml"}]}`+"\n")
}

// writeAPIError writes an OpenAI-style error body.
func writeAPIError(w http.ResponseWriter, status int, kind, msg string, retryAfter time.Duration) {
	if retryAfter > 0 {
		secs := int((retryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": kind, "code": kind}})
}
