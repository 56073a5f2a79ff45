// Package vertex is the llm provider for Gemini on Vertex AI, through
// google.golang.org/genai with the Vertex AI backend. (The older
// cloud.google.com/go/vertexai package is deprecated and must not be used.)
//
// The package only translates: an llm.Request becomes one generateContent
// call, the reply becomes an llm.Response, and every failure is mapped to an
// *llm.Error by classify. It does not retry: genai's own retries are left off
// (its default) because the pipeline retries transient errors itself, with
// its own budget.
package vertex

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/httptransport"
	"google.golang.org/genai"

	"github.com/promptml/promptml/shared/llm"
)

// DefaultLocation is the Vertex AI region used when Options.Location is empty.
const DefaultLocation = "us-central1"

// Options configures a Model.
type Options struct {
	// Project is the Google Cloud project that runs (and pays for) the
	// calls. Required.
	Project string
	// Location is the Vertex AI location: "global" (where the Gemini 3 and
	// later models are served), a multi-region ("us", "eu") or a region
	// such as "us-central1". Default DefaultLocation ("us-central1").
	Location string
	// Model is the default model name, e.g. "gemini-3.8-flash" (for an
	// Embedder, the embedding model, e.g. "text-embedding-005"); a
	// Request.Model overrides it per call. Required.
	Model string
	// Credentials authenticate the calls. Default: Application Default
	// Credentials (the function's service account on Cloud Functions),
	// unless HTTPClient is set (see there).
	Credentials *auth.Credentials
	// HTTPClient sends the requests. Default: a client genai builds from
	// Credentials. When set together with Credentials, a copy of it gets the
	// Authorization middleware; when set without Credentials it is used as
	// is and must authenticate requests itself (a proxy, a test server).
	HTTPClient *http.Client
	// BaseURL overrides the endpoint (a test server, a private endpoint);
	// genai appends "v1beta1/projects/{Project}/locations/{Location}/...".
	// Default: the regional Vertex AI endpoint of Location, or genai's
	// GOOGLE_VERTEX_BASE_URL environment variable when that is set.
	BaseURL string
	// Timeout bounds each call (genai also sends it to the server as
	// x-server-timeout). Default 0: only the context's deadline applies.
	Timeout time.Duration
}

// Model generates text with one Gemini model on Vertex AI. It is safe for
// concurrent use; build one per process instance and reuse it, since it
// holds the HTTP client and its connections.
type Model struct {
	client *genai.Client
	model  string
}

// New builds the genai client once for the given options. It does not call
// the API, so a wrong project or model only shows on the first Generate.
func New(ctx context.Context, opts Options) (*Model, error) {
	client, err := newClient(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Model{client: client, model: opts.Model}, nil
}

// newClient builds the genai client of a Model or an Embedder.
func newClient(ctx context.Context, opts Options) (*genai.Client, error) {
	if opts.Project == "" {
		return nil, errors.New("vertex: Options.Project is required")
	}
	if opts.Model == "" {
		return nil, errors.New("vertex: Options.Model is required")
	}
	cc := &genai.ClientConfig{
		Backend:     genai.BackendVertexAI,
		Project:     opts.Project,
		Location:    cmp.Or(opts.Location, DefaultLocation),
		Credentials: opts.Credentials,
		HTTPClient:  opts.HTTPClient,
		HTTPOptions: genai.HTTPOptions{BaseURL: opts.BaseURL},
	}
	if opts.Timeout > 0 {
		cc.HTTPOptions.Timeout = &opts.Timeout
	}
	// genai authenticates only the HTTP client it builds itself: a client
	// passed in is used as is, so add the credentials to a copy of it (a copy
	// so the caller's client is left unauthenticated for its other uses).
	if opts.HTTPClient != nil && opts.Credentials != nil {
		hc := *opts.HTTPClient
		if err := httptransport.AddAuthorizationMiddleware(&hc, opts.Credentials); err != nil {
			return nil, fmt.Errorf("vertex: add authorization middleware: %w", err)
		}
		cc.HTTPClient = &hc
	}
	client, err := genai.NewClient(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("vertex: genai.NewClient: %w", err)
	}
	return client, nil
}

// Generate sends req as one generateContent call. Errors are *llm.Error
// (see classify), except a canceled context, which is returned as is.
func (m *Model) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if req == nil {
		return nil, classify(errNilRequest)
	}
	model := cmp.Or(req.Model, m.model)
	contents := []*genai.Content{genai.NewContentFromText(req.Prompt, genai.RoleUser)}
	resp, err := m.client.Models.GenerateContent(ctx, model, contents, generateConfig(req))
	if err != nil {
		return nil, classify(fmt.Errorf("vertex: generateContent %s: %w", model, err))
	}
	out, err := response(resp, model)
	if err != nil {
		return nil, classify(fmt.Errorf("vertex: generateContent %s: %w", model, err))
	}
	return out, nil
}

// generateConfig translates the sampling and format fields of req.
func generateConfig(req *llm.Request) *genai.GenerateContentConfig {
	cfg := &genai.GenerateContentConfig{}
	if req.System != "" {
		// The API reads only the parts of a system instruction; the role is
		// ignored, and "user" is what genai itself fills in when it is empty.
		cfg.SystemInstruction = genai.NewContentFromText(req.System, genai.RoleUser)
	}
	if req.Temperature != nil {
		t := float32(*req.Temperature)
		cfg.Temperature = &t
	}
	if req.MaxOutputTokens > 0 {
		cfg.MaxOutputTokens = int32(min(req.MaxOutputTokens, math.MaxInt32))
	}
	if req.Seed != nil {
		// The API's seed is an int32. Truncating keeps a given int64 seed
		// mapped to the same int32, which is all reproducibility needs.
		s := int32(*req.Seed)
		cfg.Seed = &s
	}
	if th := req.Thinking; th != nil {
		// A level for Gemini 3 and later, a token budget for 2.5; thought
		// summaries are not asked for (IncludeThoughts stays false): the
		// thoughts are billed whether returned or not, and only the answer
		// is scored.
		tc := &genai.ThinkingConfig{ThinkingLevel: genai.ThinkingLevel(strings.ToUpper(th.Level))}
		if th.Budget != nil {
			b := int32(max(min(*th.Budget, math.MaxInt32), -1))
			tc.ThinkingBudget = &b
		}
		cfg.ThinkingConfig = tc
	}
	if req.ResponseSchema != nil {
		// ResponseJsonSchema takes the JSON Schema as is; ResponseSchema
		// would need a translation into genai.Schema, which covers only an
		// OpenAPI subset of it.
		cfg.ResponseMIMEType = "application/json"
		cfg.ResponseJsonSchema = req.ResponseSchema
	}
	if req.ResponseMIMEType != "" {
		cfg.ResponseMIMEType = req.ResponseMIMEType
	}
	return cfg
}

// response translates a reply, or reports why the model withheld it.
func response(resp *genai.GenerateContentResponse, model string) (*llm.Response, error) {
	if fb := resp.PromptFeedback; fb != nil && fb.BlockReason != "" {
		return nil, &blockedError{reason: "safety", detail: joinDetail("prompt blocked: "+string(fb.BlockReason), fb.BlockReasonMessage)}
	}
	if len(resp.Candidates) == 0 || resp.Candidates[0] == nil {
		return nil, &blockedError{reason: "safety", detail: "no candidates in the reply"}
	}
	cand := resp.Candidates[0]
	switch cand.FinishReason {
	case genai.FinishReasonSafety, genai.FinishReasonProhibitedContent, genai.FinishReasonBlocklist, genai.FinishReasonSPII:
		return nil, &blockedError{reason: "safety", detail: joinDetail("reply blocked: "+string(cand.FinishReason), cand.FinishMessage)}
	case genai.FinishReasonRecitation:
		return nil, &blockedError{reason: "recitation", detail: joinDetail("reply blocked: "+string(cand.FinishReason), cand.FinishMessage)}
	}
	out := &llm.Response{
		// A MAX_TOKENS reply falls through here on purpose: its (possibly
		// partial or empty) text is the model's answer and gets scored.
		Text:         candidateText(cand),
		Model:        cmp.Or(resp.ModelVersion, model),
		FinishReason: string(cand.FinishReason),
	}
	if u := resp.UsageMetadata; u != nil {
		out.Usage = llm.Usage{
			// promptTokenCount includes the tokens served from the context
			// cache (implicit or explicit), which are billed at their own
			// price: they are counted again in CachedInputTokens.
			InputTokens:       int(u.PromptTokenCount),
			CachedInputTokens: int(u.CachedContentTokenCount),
			// Thinking tokens are billed (as output, at the price table's
			// thinking price when it has one): counted in both.
			OutputTokens:   int(u.CandidatesTokenCount + u.ThoughtsTokenCount),
			ThinkingTokens: int(u.ThoughtsTokenCount),
			TotalTokens:    int(u.TotalTokenCount),
		}
	}
	return out, nil
}

// candidateText concatenates the text parts of a candidate, skipping
// thoughts. It stands in for resp.Text(), which logs a warning per call on
// multi-candidate or non-text replies.
func candidateText(cand *genai.Candidate) string {
	if cand.Content == nil {
		return ""
	}
	var b strings.Builder
	for _, p := range cand.Content.Parts {
		if p != nil && !p.Thought {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

func joinDetail(what, message string) string {
	if message == "" {
		return what
	}
	return what + ": " + message
}

// errNilRequest is a caller bug, permanent by nature.
var errNilRequest = errors.New("vertex: nil request")

// blockedError is a reply the model withheld (safety filters, recitation):
// the call succeeded, so it is an error of ours that classify maps.
type blockedError struct {
	reason string // "safety" or "recitation": the llm.Error reason
	detail string
}

func (e *blockedError) Error() string { return e.detail }
