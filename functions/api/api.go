// Package api is the API function: the HTTP interface to runs (start, list,
// inspect, cancel, export). The deployed function accepts only
// IAM-authenticated callers; the local cloud listens on 127.0.0.1.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/promptml/promptml/functions/api/internal/dashboard"
	"github.com/promptml/promptml/functions/api/wire"
	"github.com/promptml/promptml/functions/internal/handler"
	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/logging"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/serverenv"
	"github.com/promptml/promptml/shared/store"
)

func init() {
	functions.HTTP("API", serve)
	handler.ColdStart("API")
}

// maxBody bounds request bodies: a run request is a URI and a config.
const maxBody = 1 << 20

var (
	handlerOnce sync.Once
	instance    *Handler
)

func serve(w http.ResponseWriter, r *http.Request) {
	ctx := logging.WithLogger(r.Context(), logging.Default().With("function", "API"))
	env, err := serverenv.Instance(ctx)
	if err != nil {
		logging.FromContext(ctx).Error("instance not configured", "error", err.Error())
		writeError(w, http.StatusInternalServerError, "the API is misconfigured: "+err.Error())
		return
	}
	// One handler (and route table) per instance, like the clients.
	handlerOnce.Do(func() { instance = NewHandler(env.Pipeline) })
	instance.ServeHTTP(w, r.WithContext(ctx))
}

// Service is what the API uses of the pipeline: its read side, starts,
// dry runs and cancel (*pipeline.Pipeline implements it).
type Service interface {
	dashboard.Service
	StartFromAPI(ctx context.Context, req pipeline.StartRequest) (*store.Run, error)
	DryRun(ctx context.Context, req pipeline.StartRequest) (*pipeline.Estimate, error)
	DryRunCSV(ctx context.Context, req pipeline.UploadRequest) (*pipeline.Estimate, error)
}

// Handler serves the API over a pipeline.
type Handler struct {
	p   Service
	mux *http.ServeMux
	// csrf refuses state-changing requests a browser sends from another
	// site: the local API has no authentication, and an HTML form on any
	// page can POST multipart or text/plain bodies to it.
	csrf *http.CrossOriginProtection
}

// NewHandler returns the API's handler.
func NewHandler(p Service) *Handler {
	h := &Handler{p: p, mux: http.NewServeMux(), csrf: http.NewCrossOriginProtection()}
	h.mux.HandleFunc("POST /runs", byContentType(h.startRun, h.uploadRun))
	h.mux.HandleFunc("GET /runs", h.listRuns)
	h.mux.HandleFunc("GET /runs/{id}", checkIDs(h.getRun))
	h.mux.HandleFunc("POST /runs/{id}", checkIDs(h.runAction))
	h.mux.HandleFunc("GET /runs/{id}/prompts", checkIDs(h.listPrompts))
	h.mux.HandleFunc("GET /runs/{id}/prompts/{prompt}", checkIDs(h.getPrompt))
	h.mux.HandleFunc("GET /runs/{id}/epochs", checkIDs(h.listEpochs))
	h.mux.HandleFunc("GET /runs/{id}/phases", checkIDs(h.listPhases))
	h.mux.HandleFunc("GET /runs/{id}/events", checkIDs(h.listEvents))
	h.mux.HandleFunc("GET /runs/{id}/examples", checkIDs(h.listExamples))
	h.mux.HandleFunc("GET /runs/{id}/export", checkIDs(h.export))
	dashboard.New(p, ReadUpload).Register(h.mux)
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.csrf.Check(r); err != nil {
		writeError(w, http.StatusForbidden, "refused a cross-site "+r.Method+" ("+err.Error()+"): start and cancel runs from the dashboard's own pages or the CLI")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, bodyLimit(r))
	h.mux.ServeHTTP(w, r)
}

// The shapes of the ids the API accepts. Checking them before Firestore is
// reached matters: a path value is URL-decoded, so "%2F" would otherwise
// address a document in another collection.
var (
	runIDPattern    = regexp.MustCompile(`^[a-z2-7]{26}$`)
	promptIDPattern = regexp.MustCompile(`^p[0-9a-f]{12}$`)
	phaseIDPattern  = regexp.MustCompile(`^(train|val|test)-p[0-9a-f]{12}$`)
)

// checkIDs rejects malformed run, prompt and phase ids in the path and the
// query: an unknown-looking run or prompt is "not found", a malformed
// query parameter a bad request.
func checkIDs(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, _, _ := strings.Cut(r.PathValue("id"), ":")
		if !runIDPattern.MatchString(id) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("not found: no run %q (run ids are 26 characters a-z, 2-7)", id))
			return
		}
		if p := r.PathValue("prompt"); p != "" && !promptIDPattern.MatchString(p) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("not found: no prompt %q (prompt ids look like p0123456789ab)", p))
			return
		}
		q := r.URL.Query()
		if v := q.Get("version"); v != "" && !promptIDPattern.MatchString(v) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("version %q is not a prompt id (like p0123456789ab)", v))
			return
		}
		if v := q.Get("phase"); v != "" && !phaseIDPattern.MatchString(v) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("phase %q is not a phase id (like val-p0123456789ab)", v))
			return
		}
		next(w, r)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// ErrorBody is the JSON of every error reply.
type ErrorBody = wire.Error

// StartResponse is the reply of POST /runs.
type StartResponse = wire.StartResponse

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, ErrorBody{Error: msg})
}

// statusOf is the one map from the error vocabulary (shared/errs) to HTTP.
var statusOf = map[errs.Kind]int{
	errs.InvalidArgument: http.StatusBadRequest,
	errs.NotFound:        http.StatusNotFound,
	errs.Busy:            http.StatusConflict,
	errs.Unavailable:     http.StatusServiceUnavailable,
	errs.Internal:        http.StatusInternalServerError,
}

// fail answers an error, in one place. An internal error (or one nobody
// classified) is logged with an id and answered as a generic 500 naming
// that id: its text may hold paths, document names or a dependency's
// message, which are not the caller's business.
func fail(ctx context.Context, w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", mbe.Limit))
		return
	}
	kind := errs.KindOf(err)
	if kind != errs.Internal {
		writeError(w, statusOf[kind], errs.Message(err))
		return
	}
	id := errorID()
	logging.FromContext(ctx).Error("request failed", "error", err.Error(), "error_id", id)
	writeJSON(w, http.StatusInternalServerError, ErrorBody{Error: "internal error (id " + id + "); the function's logs have the details", ID: id})
}

// errorID names one internal error in the log.
func errorID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// StartRequest is the body of POST /runs.
type StartRequest struct {
	// Dataset is gs://DATASETS_BUCKET/name.csv.
	Dataset string `json:"dataset"`
	// Config overrides the defaults and the sidecar: a JSON object, or a
	// string holding YAML.
	Config json.RawMessage `json:"config,omitempty"`
}

func (h *Handler) startRun(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req StartRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			fail(ctx, w, err)
			return
		}
		writeError(w, http.StatusBadRequest, `body must be JSON like {"dataset":"gs://bucket/data.csv","config":{...}}: `+err.Error())
		return
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "body must hold one JSON object; found more after it")
		return
	}
	if req.Dataset == "" {
		writeError(w, http.StatusBadRequest, `"dataset" is required (gs://bucket/data.csv)`)
		return
	}
	cfg := []byte(req.Config)
	var s string
	if json.Unmarshal(req.Config, &s) == nil {
		cfg = []byte(s) // YAML in a string
	}
	if r.URL.Query().Get("dry_run") == "true" {
		h.dryRun(w, r, pipeline.StartRequest{Dataset: req.Dataset, Config: cfg})
		return
	}
	run, err := h.p.StartFromAPI(ctx, pipeline.StartRequest{Dataset: req.Dataset, Config: cfg})
	if err != nil {
		fail(ctx, w, err)
		return
	}
	if run.Status == store.StatusFailed {
		// The run exists (its error is on it) but the input was bad.
		writeJSON(w, http.StatusUnprocessableEntity, StartResponse{Run: wire.FromRun(run)})
		return
	}
	w.Header().Set("Location", "/runs/"+run.ID)
	writeJSON(w, http.StatusCreated, StartResponse{Run: wire.FromRun(run)})
}

func (h *Handler) listRuns(w http.ResponseWriter, r *http.Request) {
	status := store.RunStatus(r.URL.Query().Get("status"))
	if status != "" && !slices.Contains(store.RunStatuses, status) {
		writeError(w, http.StatusBadRequest, "status must be running, succeeded, failed, cancelled or budget_exhausted")
		return
	}
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "limit must be between 1 and 1000")
			return
		}
		limit = n
	}
	runs, err := h.p.Runs(r.Context(), status, limit)
	if err != nil {
		fail(r.Context(), w, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.Runs{Runs: wire.FromRuns(runs)})
}

func (h *Handler) getRun(w http.ResponseWriter, r *http.Request) {
	run, err := h.p.Run(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(r.Context(), w, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.FromRun(run))
}

// runAction serves POST /runs/{id}:cancel (a custom method, as Google APIs
// spell it).
func (h *Handler) runAction(w http.ResponseWriter, r *http.Request) {
	id, action, ok := strings.Cut(r.PathValue("id"), ":")
	if !ok || action != "cancel" {
		writeError(w, http.StatusNotFound, "unknown action; use POST /runs/{id}:cancel")
		return
	}
	if _, err := h.p.Run(r.Context(), id); err != nil {
		fail(r.Context(), w, err)
		return
	}
	run, err := h.p.Cancel(r.Context(), id)
	if err != nil {
		fail(r.Context(), w, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.FromRun(run))
}

// runExists answers 404 for an unknown run, so its sub-resources are not
// mistaken for empty lists.
func (h *Handler) runExists(w http.ResponseWriter, r *http.Request) bool {
	if _, err := h.p.Run(r.Context(), r.PathValue("id")); err != nil {
		fail(r.Context(), w, err)
		return false
	}
	return true
}

func (h *Handler) listPrompts(w http.ResponseWriter, r *http.Request) {
	if !h.runExists(w, r) {
		return
	}
	ps, err := h.p.Prompts(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(r.Context(), w, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.FromPrompts(ps))
}

func (h *Handler) getPrompt(w http.ResponseWriter, r *http.Request) {
	p, err := h.p.Prompt(r.Context(), r.PathValue("id"), r.PathValue("prompt"))
	if err != nil {
		fail(r.Context(), w, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.FromPrompt(p))
}

func (h *Handler) listEpochs(w http.ResponseWriter, r *http.Request) {
	if !h.runExists(w, r) {
		return
	}
	es, err := h.p.Epochs(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(r.Context(), w, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.FromEpochs(es))
}

func (h *Handler) listPhases(w http.ResponseWriter, r *http.Request) {
	if !h.runExists(w, r) {
		return
	}
	ctx := r.Context()
	ps, err := h.p.Phases(ctx, r.PathValue("id"))
	if err != nil {
		fail(ctx, w, err)
		return
	}
	for _, ph := range ps {
		// A phase's usage is written when it finishes: until then, report
		// what its done batches used, so progress shows calls and cost.
		if err = h.p.Progress(ctx, r.PathValue("id"), ph); err != nil {
			fail(ctx, w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, wire.FromPhases(ps))
}

func (h *Handler) listEvents(w http.ResponseWriter, r *http.Request) {
	if !h.runExists(w, r) {
		return
	}
	var after time.Time
	if v := r.URL.Query().Get("after"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "after must be an RFC 3339 time")
			return
		}
		after = t
	}
	es, err := h.p.Events(r.Context(), r.PathValue("id"), after)
	if err != nil {
		fail(r.Context(), w, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.FromEvents(es))
}

// listExamples serves GET /runs/{id}/examples?phase=PHASE[&batch_from=N]
// [&limit=N]: the per-example results of one phase, a page of whole batches
// at a time (next_batch_from says where the next page starts).
func (h *Handler) listExamples(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, phaseID := r.PathValue("id"), r.URL.Query().Get("phase")
	if phaseID == "" {
		writeError(w, http.StatusBadRequest, "phase is required, e.g. ?phase=val-p0123456789ab (see GET /runs/{id}/phases)")
		return
	}
	from, limit := 0, defaultExamples
	for _, q := range []struct {
		name    string
		dst     *int
		lo, hi  int
		example string
	}{{"batch_from", &from, 0, 1 << 30, "0"}, {"limit", &limit, 1, maxExamples, "1000"}} {
		if v := r.URL.Query().Get(q.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < q.lo || n > q.hi {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("%s must be a whole number from %d to %d, e.g. %s", q.name, q.lo, q.hi, q.example))
				return
			}
			*q.dst = n
		}
	}
	results, next, err := h.p.PhaseResults(ctx, id, phaseID, from, limit)
	if err != nil {
		fail(ctx, w, err)
		return
	}
	body := map[string]any{"phase": phaseID, "examples": results}
	if next >= 0 {
		// Whole batches are returned; ask again from here for the rest.
		body["next_batch_from"] = next
	}
	writeJSON(w, http.StatusOK, body)
}

// Page sizes of GET /runs/{id}/examples, in examples (whole batches are
// returned, so a page can exceed the limit by less than one batch).
const (
	defaultExamples = 1000
	maxExamples     = 5000
)

// export serves GET /runs/{id}/export[?version=PROMPT]: the best (or a
// chosen) prompt as prompt.json.
func (h *Handler) export(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	run, err := h.p.Run(ctx, r.PathValue("id"))
	if err != nil {
		fail(ctx, w, err)
		return
	}
	version := r.URL.Query().Get("version")
	if version == "" {
		version = run.IncumbentID
	}
	if version == "" {
		writeError(w, http.StatusConflict, "the run has no prompt yet")
		return
	}
	p, err := h.p.Prompt(ctx, run.ID, version)
	if err != nil {
		fail(ctx, w, err)
		return
	}
	ex, err := pipeline.ExportOf(run, p)
	if err != nil {
		fail(ctx, w, err)
		return
	}
	writeJSON(w, http.StatusOK, ex)
}
