package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/promptml/promptml/functions/api"
	"github.com/promptml/promptml/functions/api/wire"
	"github.com/promptml/promptml/shared/logging"
	"github.com/promptml/promptml/shared/store"
)

// failingService answers GET /runs/{id} with a canned run or error; any
// other call panics (the tests below make none).
type failingService struct {
	api.Service
	run *store.Run
	err error
}

func (f failingService) Run(context.Context, string) (*store.Run, error) { return f.run, f.err }

const someRunID = "abcdefghijklmnopqrstuvwxyz"

func get(t *testing.T, svc api.Service, path string) (*httptest.ResponseRecorder, string) {
	t.Helper()
	var logs bytes.Buffer
	ctx := logging.WithLogger(t.Context(), slog.New(slog.NewJSONHandler(&logs, nil)))
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	w := httptest.NewRecorder()
	api.NewHandler(svc).ServeHTTP(w, req)
	return w, logs.String()
}

// TestInternalErrorHasAnID: an error nobody classified (here, one whose
// text a caller must not see) is answered as a generic 500 naming an id,
// and the log line with the details carries the same id.
func TestInternalErrorHasAnID(t *testing.T) {
	secret := "firestore: projects/p/databases/(default)/documents/runs/x: connection reset"
	w, logs := get(t, failingService{err: errors.New(secret)}, "/runs/"+someRunID)
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", w.Code)
	}
	var body wire.Error
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.ID == "" || strings.Contains(body.Error, "firestore") || !strings.Contains(body.Error, body.ID) {
		t.Errorf("body %+v: want a generic message naming its id, without the error's text", body)
	}
	if !strings.Contains(logs, `"error_id":"`+body.ID+`"`) || !strings.Contains(logs, "connection reset") {
		t.Errorf("log %q: want the error's text under error_id %s", logs, body.ID)
	}
}

// TestRunReplyHasNoInternals: GET /runs/{id} shows the run without the
// state machine's bookkeeping.
func TestRunReplyHasNoInternals(t *testing.T) {
	r := &store.Run{ID: someRunID, Status: store.StatusRunning, Stage: store.StageCandidates, StageSeq: 4, PublishedSeq: 3,
		Pending: []string{"val-p0123456789ab"}, Lease: &store.Lease{Holder: "h", Expires: time.Now()},
		Outbox: []store.OutboxEvent{{Key: "gate/1"}}, Epoch: 1}
	w, _ := get(t, failingService{run: r}, "/runs/"+someRunID)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"stage_seq", "published_seq", "pending", "lease", "outbox"} {
		if _, ok := got[k]; ok {
			t.Errorf("GET /runs/{id} has %q", k)
		}
	}
	if got["stage"] != "candidates" || got["status"] != "running" || got["epoch"] != 1.0 {
		t.Errorf("reply %v lost the run's state", got)
	}
}
