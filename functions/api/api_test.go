package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/functions/api"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/localcloud"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/pipeline/pipelinetest"
	"github.com/promptml/promptml/shared/store"
)

func TestMain(m *testing.M) { os.Exit(localcloud.RunTests(m)) }

type env struct {
	*pipelinetest.Env
	h http.Handler
}

func newEnv(t *testing.T, csv string) *env {
	t.Helper()
	e := pipelinetest.New(t, csv)
	return &env{Env: e, h: api.NewHandler(e.P)}
}

// response is a recorded reply.
type response struct {
	code   int
	header http.Header
	body   []byte
}

func (e *env) do(t *testing.T, method, target string, body []byte) response {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	} else {
		rd = bytes.NewReader(nil)
	}
	req := httptest.NewRequestWithContext(t.Context(), method, target, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// getJSON GETs target, wants 200 and decodes the JSON reply into v.
func (e *env) getJSON(t *testing.T, target string, v any) {
	t.Helper()
	r := e.do(t, http.MethodGet, target, nil)
	if r.code != http.StatusOK {
		t.Fatalf("GET %s = %d %s, want 200", target, r.code, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q, want application/json", target, ct)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", target, err, r.body)
	}
}

// wantError checks an error reply: the code and a JSON {"error": ...}.
func wantError(t *testing.T, r response, code int, mention string) {
	t.Helper()
	body := string(r.body)
	if len(body) > 300 {
		body = body[:300] + "…"
	}
	if r.code != code {
		t.Errorf("code = %d, want %d (body %s)", r.code, code, body)
	}
	var eb api.ErrorBody
	if err := json.Unmarshal(r.body, &eb); err != nil || eb.Error == "" {
		t.Errorf("body %q is not a JSON error (%v)", body, err)
	}
	if !strings.Contains(eb.Error, mention) {
		t.Errorf("error %q does not mention %q", eb.Error, mention)
	}
}

func readSample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../samples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAPI(t *testing.T) {
	csv := readSample(t, "sentiment.csv")
	e := newEnv(t, csv)
	ctx := t.Context()
	e.Upload(t, "sentiment.yaml", readSample(t, "sentiment.yaml"))
	id, err := e.P.StartFromUpload(ctx, e.Upload(t, "sentiment.csv", csv))
	if err != nil {
		t.Fatal(err)
	}
	e.Drain(t, false)
	run, err := e.Store.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != store.StatusSucceeded {
		t.Fatalf("training run ended %s (%+v), want succeeded", run.Status, run.Error)
	}

	t.Run("list runs", func(t *testing.T) {
		var got struct{ Runs []store.Run }
		e.getJSON(t, "/runs", &got)
		if len(got.Runs) == 0 || got.Runs[0].ID != id {
			t.Errorf("GET /runs = %+v, want run %s first", got.Runs, id)
		}
		e.getJSON(t, "/runs?status=succeeded&limit=1", &got)
		if len(got.Runs) != 1 || got.Runs[0].ID != id {
			t.Errorf("GET /runs?status=succeeded = %d runs, want %s", len(got.Runs), id)
		}
		var none struct{ Runs []store.Run }
		r := e.do(t, http.MethodGet, "/runs?status=failed", nil)
		if r.code != http.StatusOK || !bytes.Contains(r.body, []byte(`"runs": []`)) {
			t.Errorf("GET /runs?status=failed = %d %s, want 200 with an empty list", r.code, r.body)
		}
		_ = json.Unmarshal(r.body, &none)
		if len(none.Runs) != 0 {
			t.Errorf("GET /runs?status=failed listed %d runs", len(none.Runs))
		}
	})

	t.Run("list runs bad query", func(t *testing.T) {
		for _, q := range []string{"status=bogus", "limit=0", "limit=x", "limit=1001"} {
			t.Run(q, func(t *testing.T) {
				wantError(t, e.do(t, http.MethodGet, "/runs?"+q, nil), http.StatusBadRequest, "")
			})
		}
	})

	t.Run("get run", func(t *testing.T) {
		var got store.Run
		e.getJSON(t, "/runs/"+id, &got)
		if got.ID != id || got.Status != store.StatusSucceeded {
			t.Errorf("run = %s %s, want %s succeeded", got.ID, got.Status, id)
		}
		if got.Dataset.Rows != 80 || got.Dataset.Counts["train"]+got.Dataset.Counts["val"]+got.Dataset.Counts["test"] != 80 {
			t.Errorf("dataset = %+v, want 80 rows split in counts", got.Dataset)
		}
		if got.Dataset.Counts["val"] == 0 || got.Dataset.URI != "gs://datasets/sentiment.csv" {
			t.Errorf("dataset = %+v", got.Dataset)
		}
		if got.Test == nil || got.IncumbentID == "" || got.Usage.Calls == 0 {
			t.Errorf("finished run lacks test result, incumbent or usage: %+v", got)
		}
	})

	t.Run("get unknown run", func(t *testing.T) {
		wantError(t, e.do(t, http.MethodGet, "/runs/nope", nil), http.StatusNotFound, "not found")
		for _, sub := range []string{"prompts", "epochs", "phases", "events"} {
			wantError(t, e.do(t, http.MethodGet, "/runs/nope/"+sub, nil), http.StatusNotFound, "not found")
		}
	})

	var prompts []store.Prompt
	t.Run("prompts", func(t *testing.T) {
		var got struct{ Prompts []store.Prompt }
		e.getJSON(t, "/runs/"+id+"/prompts", &got)
		prompts = got.Prompts
		if len(prompts) < 2 {
			t.Fatalf("%d prompt versions, want the initial one and at least one candidate", len(prompts))
		}
		ids := map[string]bool{}
		for _, p := range prompts {
			ids[p.ID] = true
		}
		for _, p := range prompts {
			if len(p.Scores) == 0 {
				t.Errorf("prompt %s has no scores", p.ID)
			}
			if p.ID == run.InitialPromptID {
				if p.Parent != "" || p.Epoch != 0 {
					t.Errorf("v0 %s has parent %q epoch %d, want none, 0", p.ID, p.Parent, p.Epoch)
				}
				for _, split := range []string{"train", "val", "test"} {
					if _, ok := p.Scores[split]; !ok {
						t.Errorf("v0 lacks a %s score: %v", split, p.Scores)
					}
				}
				continue
			}
			if p.Parent == "" || !ids[p.Parent] {
				t.Errorf("prompt %s has parent %q, want one of the run's prompts", p.ID, p.Parent)
			}
			if strings.TrimSpace(p.Reasoning) == "" {
				t.Errorf("prompt %s has no optimizer reasoning", p.ID)
			}
			if _, ok := p.Scores["val"]; !ok {
				t.Errorf("candidate %s lacks a val score: %v", p.ID, p.Scores)
			}
		}
		if !ids[run.InitialPromptID] || !ids[run.IncumbentID] {
			t.Errorf("prompts lack the initial %s or the incumbent %s", run.InitialPromptID, run.IncumbentID)
		}
		var one store.Prompt
		e.getJSON(t, "/runs/"+id+"/prompts/"+run.IncumbentID, &one)
		if one.ID != run.IncumbentID {
			t.Errorf("GET prompt = %s, want %s", one.ID, run.IncumbentID)
		}
		wantError(t, e.do(t, http.MethodGet, "/runs/"+id+"/prompts/pnope", nil), http.StatusNotFound, "not found")
	})

	t.Run("epochs", func(t *testing.T) {
		var got struct{ Epochs []store.Epoch }
		e.getJSON(t, "/runs/"+id+"/epochs", &got)
		if len(got.Epochs) == 0 {
			t.Fatal("no epochs")
		}
		for i, ep := range got.Epochs {
			if ep.N != i+1 {
				t.Errorf("epoch %d has N=%d", i, ep.N)
			}
			switch ep.Decision {
			case store.DecisionAccepted, store.DecisionRejected, store.DecisionNoChange, store.DecisionOptimizerFailed:
			default:
				t.Errorf("epoch %d has decision %q", ep.N, ep.Decision)
			}
		}
	})

	var phases []store.Phase
	t.Run("phases", func(t *testing.T) {
		var got struct{ Phases []store.Phase }
		e.getJSON(t, "/runs/"+id+"/phases", &got)
		phases = got.Phases
		if len(phases) < 4 {
			t.Fatalf("%d phases, want at least train, val and test of v0 and a candidate's val", len(phases))
		}
		for _, ph := range phases {
			if ph.State != store.PhaseDone || ph.Metrics == nil {
				t.Errorf("phase %s is %s with metrics %v, want done with metrics", ph.ID, ph.State, ph.Metrics)
			}
		}
	})

	t.Run("events", func(t *testing.T) {
		var got struct{ Events []store.Event }
		e.getJSON(t, "/runs/"+id+"/events", &got)
		evs := got.Events
		if len(evs) < 3 {
			t.Fatalf("%d events, want a log of the run", len(evs))
		}
		for i := 1; i < len(evs); i++ {
			if evs[i].Time.Before(evs[i-1].Time) {
				t.Errorf("event %d (%v) before event %d (%v)", i, evs[i].Time, i-1, evs[i-1].Time)
			}
		}
		for _, ev := range evs {
			if ev.Message == "" || ev.Kind == "" {
				t.Errorf("event without kind or message: %+v", ev)
			}
		}
		mid := evs[len(evs)/2].Time
		want := 0
		for _, ev := range evs {
			if ev.Time.After(mid) {
				want++
			}
		}
		var after struct{ Events []store.Event }
		e.getJSON(t, "/runs/"+id+"/events?after="+url.QueryEscape(mid.Format(time.RFC3339Nano)), &after)
		if len(after.Events) != want {
			t.Errorf("?after=%v gave %d events, want %d", mid, len(after.Events), want)
		}
		for _, ev := range after.Events {
			if !ev.Time.After(mid) {
				t.Errorf("?after=%v returned an event at %v", mid, ev.Time)
			}
		}
		wantError(t, e.do(t, http.MethodGet, "/runs/"+id+"/events?after=yesterday", nil), http.StatusBadRequest, "RFC 3339")
	})

	t.Run("examples", func(t *testing.T) {
		phase := pipeline.PhaseID("val", run.InitialPromptID)
		var got struct {
			Phase    string
			Examples []pipeline.Result
		}
		e.getJSON(t, "/runs/"+id+"/examples?phase="+phase, &got)
		if got.Phase != phase {
			t.Errorf("phase = %q, want %q", got.Phase, phase)
		}
		if want := run.Dataset.Counts["val"]; len(got.Examples) != want {
			t.Errorf("%d examples, want %d (the val split)", len(got.Examples), want)
		}
		for _, ex := range got.Examples {
			if ex.Input == "" || ex.Expected == "" || (ex.Error == "" && (ex.Actual == "" || ex.Score == nil)) {
				t.Errorf("example lacks input/expected/actual/score: %+v", ex)
			}
		}
		wantError(t, e.do(t, http.MethodGet, "/runs/"+id+"/examples", nil), http.StatusBadRequest, "phase")
		wantError(t, e.do(t, http.MethodGet, "/runs/"+id+"/examples?phase=val-p000000000000", nil), http.StatusNotFound, "not found")
		wantError(t, e.do(t, http.MethodGet, "/runs/"+id+"/examples?phase=val-pnope", nil), http.StatusBadRequest, "not a phase id")
		wantError(t, e.do(t, http.MethodGet, "/runs/"+id+"/examples?phase="+phase+"&limit=0", nil), http.StatusBadRequest, "limit")

		// Pages of whole batches: a limit of one example returns one batch
		// and says where the next page starts, until the phase is read.
		var all []pipeline.Result
		from := 0
		for pages := 0; ; pages++ {
			var page struct {
				Examples []pipeline.Result
				Next     *int `json:"next_batch_from"`
			}
			e.getJSON(t, fmt.Sprintf("/runs/%s/examples?phase=%s&limit=1&batch_from=%d", id, phase, from), &page)
			all = append(all, page.Examples...)
			if page.Next == nil {
				if pages+1 != run.Dataset.Batches["val"] {
					t.Errorf("%d pages, want one per batch (%d)", pages+1, run.Dataset.Batches["val"])
				}
				break
			}
			from = *page.Next
		}
		if d := cmp.Diff(got.Examples, all); d != "" {
			t.Errorf("paged examples differ from the whole phase (-whole +paged):\n%s", d)
		}
	})

	t.Run("export", func(t *testing.T) {
		var got pipeline.ExportedPrompt
		e.getJSON(t, "/runs/"+id+"/export", &got)
		best, err := e.Store.GetPrompt(ctx, id, run.IncumbentID)
		if err != nil {
			t.Fatal(err)
		}
		if got.RunID != id || got.PromptID != best.ID || got.SystemPrompt != best.System || got.OutputPrompt != best.Output || got.Parent != best.Parent {
			t.Errorf("export = %+v, want the incumbent %+v", got, best)
		}
		var v0 pipeline.ExportedPrompt
		e.getJSON(t, "/runs/"+id+"/export?version="+run.InitialPromptID, &v0)
		if v0.PromptID != run.InitialPromptID || v0.SystemPrompt != "You are a helpful assistant." || v0.OutputPrompt != "Answer the request." || v0.Parent != "" {
			t.Errorf("export of v0 = %+v", v0)
		}
		wantError(t, e.do(t, http.MethodGet, "/runs/"+id+"/export?version=p000000000000", nil), http.StatusNotFound, "not found")
		wantError(t, e.do(t, http.MethodGet, "/runs/"+id+"/export?version=pnope", nil), http.StatusBadRequest, "not a prompt id")
		wantError(t, e.do(t, http.MethodGet, "/runs/nope/export", nil), http.StatusNotFound, "not found")
	})

	t.Run("encoded slashes never reach another document", func(t *testing.T) {
		phase := pipeline.PhaseID("val", run.InitialPromptID)
		for _, target := range []string{
			"/runs/" + id + "%2Fphases%2F" + phase,
			"/runs/" + id + "%2Fphases%2F" + phase + ":cancel",
			"/runs/" + id + "/prompts/" + run.InitialPromptID + "%2Fx",
			"/runs/..%2F..%2Fuploads",
		} {
			method := http.MethodGet
			if strings.HasSuffix(target, ":cancel") {
				method = http.MethodPost
			}
			wantError(t, e.do(t, method, target, nil), http.StatusNotFound, "not found")
		}
		ph, err := e.Store.GetPhase(ctx, id, phase)
		if err != nil || ph.State != "done" {
			t.Errorf("phase after the attempts: %+v %v; want it untouched (done)", ph, err)
		}
	})

	t.Run("index", func(t *testing.T) {
		r := e.do(t, http.MethodGet, "/", nil)
		if r.code != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET / = %d %s", r.code, r.header.Get("Content-Type"))
		}
		if !bytes.Contains(r.body, []byte(id)) {
			t.Errorf("index does not list run %s", id)
		}
	})

	t.Run("cancel finished run", func(t *testing.T) {
		r := e.do(t, http.MethodPost, "/runs/"+id+":cancel", nil)
		if r.code != http.StatusOK {
			t.Fatalf("cancel = %d %s", r.code, r.body)
		}
		var got store.Run
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		stored, err := e.Store.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != store.StatusSucceeded || stored.Status != store.StatusSucceeded {
			t.Errorf("after cancel: replied %s, stored %s; want succeeded", got.Status, stored.Status)
		}
	})

	t.Run("unknown action", func(t *testing.T) {
		wantError(t, e.do(t, http.MethodPost, "/runs/"+id+":bogus", nil), http.StatusNotFound, "cancel")
		wantError(t, e.do(t, http.MethodPost, "/runs/"+id, nil), http.StatusNotFound, "cancel")
		wantError(t, e.do(t, http.MethodPost, "/runs/nope:cancel", nil), http.StatusNotFound, "not found")
	})
}

func TestStartRun(t *testing.T) {
	csv := readSample(t, "sentiment.csv")
	e := newEnv(t, csv)
	ctx := t.Context()
	e.Upload(t, "sentiment.csv", csv)
	e.Upload(t, "notes/sub/data.csv", csv)

	var started string
	t.Run("created", func(t *testing.T) {
		r := e.do(t, http.MethodPost, "/runs", []byte(`{"dataset":"gs://datasets/sentiment.csv","config":{"epochs":1,"batch_size":40}}`))
		if r.code != http.StatusCreated {
			t.Fatalf("POST /runs = %d %s, want 201", r.code, r.body)
		}
		var got api.StartResponse
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		if got.Run == nil || got.Run.ID == "" || got.Run.Status != store.StatusRunning {
			t.Fatalf("reply run = %+v, want a running run", got.Run)
		}
		started = got.Run.ID
		if loc := r.header.Get("Location"); loc != "/runs/"+started {
			t.Errorf("Location = %q, want /runs/%s", loc, started)
		}
		stored, err := e.Store.GetRun(ctx, started)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.FromMap(stored.Config)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Epochs != 1 || cfg.BatchSize != 40 || stored.Source.Kind != "api" {
			t.Errorf("stored run: epochs %d batch_size %d source %+v; want the request's config, kind api", cfg.Epochs, cfg.BatchSize, stored.Source)
		}
		if bs, _ := e.Q.Take(); len(bs) == 0 {
			t.Error("a started run published no batches")
		}
	})

	t.Run("YAML config in a string", func(t *testing.T) {
		r := e.do(t, http.MethodPost, "/runs", []byte(`{"dataset":"gs://datasets/notes/sub/data.csv","config":"epochs: 2\nsplit:\n  seed: 5\n"}`))
		if r.code != http.StatusCreated {
			t.Fatalf("POST /runs = %d %s, want 201", r.code, r.body)
		}
		var got api.StartResponse
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.FromMap(got.Run.Config)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Epochs != 2 || cfg.Split.Seed != 5 {
			t.Errorf("config = epochs %d seed %d, want 2, 5", cfg.Epochs, cfg.Split.Seed)
		}
		e.Q.Take()
	})

	t.Run("cancel running run", func(t *testing.T) {
		r := e.do(t, http.MethodPost, "/runs/"+started+":cancel", nil)
		if r.code != http.StatusOK {
			t.Fatalf("cancel = %d %s", r.code, r.body)
		}
		var got store.Run
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		stored, err := e.Store.GetRun(ctx, started)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != store.StatusCancelled || stored.Status != store.StatusCancelled {
			t.Errorf("after cancel: replied %s, stored %s; want cancelled", got.Status, stored.Status)
		}
		// Cancelling twice is harmless.
		if r := e.do(t, http.MethodPost, "/runs/"+started+":cancel", nil); r.code != http.StatusOK {
			t.Errorf("second cancel = %d %s", r.code, r.body)
		}
	})

	badConfigs := []struct {
		name, body, path string
	}{
		{"unknown nested key", `{"dataset":"gs://datasets/sentiment.csv","config":{"split":{"vall":0.2}}}`, "split.vall"},
		{"out of range in YAML string", `{"dataset":"gs://datasets/sentiment.csv","config":"epochs: -1"}`, "epochs"},
		{"wrong kind", `{"dataset":"gs://datasets/sentiment.csv","config":{"metrics":{}}}`, "metrics"},
	}
	for _, tt := range badConfigs {
		t.Run("bad config "+tt.name, func(t *testing.T) {
			r := e.do(t, http.MethodPost, "/runs", []byte(tt.body))
			if r.code != http.StatusUnprocessableEntity {
				t.Fatalf("POST /runs = %d %s, want 422", r.code, r.body)
			}
			var got api.StartResponse
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatal(err)
			}
			if got.Run == nil || got.Run.Status != store.StatusFailed || got.Run.Error == nil || got.Run.Error.Path != tt.path {
				t.Fatalf("reply run = %+v, want failed at %s", got.Run, tt.path)
			}
			stored, err := e.Store.GetRun(ctx, got.Run.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Status != store.StatusFailed || stored.Error == nil || stored.Error.Path != tt.path {
				t.Errorf("stored run = %s %+v, want failed at %s", stored.Status, stored.Error, tt.path)
			}
			if bs, ds := e.Q.Take(); len(bs)+len(ds) > 0 {
				t.Errorf("a failed start published %d messages", len(bs)+len(ds))
			}
			// A run that never got a prompt has nothing to export.
			wantError(t, e.do(t, http.MethodGet, "/runs/"+got.Run.ID+"/export", nil), http.StatusConflict, "no prompt")
		})
	}

	badRequests := []struct {
		name    string
		body    []byte
		code    int
		mention string
	}{
		{"dataset outside the datasets bucket", []byte(`{"dataset":"gs://artifacts/sentiment.csv"}`), http.StatusBadRequest, "datasets bucket"},
		{"dot-dot segment", []byte(`{"dataset":"gs://datasets/a/../sentiment.csv"}`), http.StatusBadRequest, ".."},
		{"leading dot-dot", []byte(`{"dataset":"gs://datasets/../artifacts/x.csv"}`), http.StatusBadRequest, ".."},
		{"not a gs URI", []byte(`{"dataset":"https://example.com/a.csv"}`), http.StatusBadRequest, "gs://"},
		{"missing object", []byte(`{"dataset":"gs://datasets/missing.csv"}`), http.StatusBadRequest, "does not exist"},
		{"no dataset", []byte(`{}`), http.StatusBadRequest, "dataset"},
		{"malformed JSON", []byte(`{"dataset":`), http.StatusBadRequest, "JSON"},
		{"trailing data after the JSON", []byte(`{"dataset":"gs://datasets/sentiment.csv"} {"dataset":`), http.StatusBadRequest, "JSON"},
		{"empty body", []byte(``), http.StatusBadRequest, "JSON"},
		{"not an object", []byte(`["gs://datasets/sentiment.csv"]`), http.StatusBadRequest, "JSON"},
		{"unknown field", []byte(`{"dataset":"gs://datasets/sentiment.csv","epochs":3}`), http.StatusBadRequest, "epochs"},
		{"body over 1 MiB", []byte(`{"dataset":"gs://datasets/sentiment.csv","config":"` + strings.Repeat("a", 1<<20) + `"}`), http.StatusRequestEntityTooLarge, "larger than"},
	}
	for _, tt := range badRequests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := e.Store.ListRuns(ctx, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, e.do(t, http.MethodPost, "/runs", tt.body), tt.code, tt.mention)
			after, err := e.Store.ListRuns(ctx, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before) {
				t.Errorf("a rejected request created a run (%d → %d runs)", len(before), len(after))
			}
		})
	}
}
