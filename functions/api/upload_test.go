package api_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/promptml/promptml/functions/api"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/store"
)

// form builds a multipart body from fields; a field named csv is a file.
func form(t *testing.T, fields map[string]string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		var err error
		if k == "csv" {
			w, ferr := mw.CreateFormFile("csv", "my data.csv")
			if ferr != nil {
				t.Fatal(ferr)
			}
			_, err = w.Write([]byte(v))
		} else {
			err = mw.WriteField(k, v)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

func (e *env) post(t *testing.T, target string, body []byte, contentType string) response {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func TestUploadRun(t *testing.T) {
	csv := readSample(t, "sentiment.csv")
	e := newEnv(t, csv)
	ctx := t.Context()

	t.Run("created", func(t *testing.T) {
		body, ct := form(t, map[string]string{"csv": csv, "config": "epochs: 1\nbatch_size: 40\n"})
		r := e.post(t, "/runs", body, ct)
		if r.code != http.StatusCreated {
			t.Fatalf("POST /runs (form) = %d %s, want 201", r.code, r.body)
		}
		var got api.StartResponse
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		run := got.Run
		if run == nil || run.Status != store.StatusRunning || run.Source.Kind != "upload" {
			t.Fatalf("run = %+v, want a running upload run", run)
		}
		if !strings.HasPrefix(run.Source.Object, pipeline.UploadPrefix) || !strings.HasSuffix(run.Source.Object, "/my-data.csv") {
			t.Errorf("object %q, want uploads/…/my-data.csv", run.Source.Object)
		}
		cfg, err := config.FromMap(run.Config)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Epochs != 1 || cfg.BatchSize != 40 {
			t.Errorf("config epochs %d batch_size %d, want the form's 1 and 40", cfg.Epochs, cfg.BatchSize)
		}
		// The storage trigger sees the same object: it must not start a
		// second run.
		again, err := e.P.StartFromUpload(ctx, pipeline.Upload{Bucket: run.Source.Bucket, Object: run.Source.Object, Generation: run.Source.Generation})
		if err != nil || again != run.ID {
			t.Errorf("the upload's storage event started %q (%v), want the same run %s", again, err, run.ID)
		}
		runs, err := e.Store.ListRuns(ctx, "", 10)
		if err != nil || len(runs) != 1 {
			t.Errorf("%d runs (%v), want 1", len(runs), err)
		}
	})

	t.Run("bad CSV is a failed run", func(t *testing.T) {
		body, ct := form(t, map[string]string{"csv": "question,answer\nhi,salut\n"})
		r := e.post(t, "/runs", body, ct)
		if r.code != http.StatusUnprocessableEntity || !bytes.Contains(r.body, []byte("missing required column")) {
			t.Errorf("bad CSV = %d %s, want 422 naming the missing column", r.code, r.body)
		}
	})

	tooBig := strings.Repeat("x", api.MaxUploadBytes+10)
	for _, tc := range []struct {
		name   string
		target string
		fields map[string]string
		code   int
		says   string
	}{
		{"no csv", "/runs", map[string]string{"config": "epochs: 1"}, http.StatusBadRequest, "no csv file"},
		{"empty csv", "/runs", map[string]string{"csv": ""}, http.StatusBadRequest, "no csv file"},
		{"unknown field", "/runs", map[string]string{"csv": csv, "dataset": "x"}, http.StatusBadRequest, `unknown form field "dataset"`},
		{"too large", "/runs", map[string]string{"csv": tooBig}, http.StatusRequestEntityTooLarge, "gs:// URI"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, ct := form(t, tc.fields)
			wantError(t, e.post(t, tc.target, body, ct), tc.code, tc.says)
		})
	}
	t.Run("broken multipart", func(t *testing.T) {
		wantError(t, e.post(t, "/runs", []byte("not a form"), "multipart/form-data; boundary=zzz"), http.StatusBadRequest, "")
	})
}

// TestDashboardPages checks the pages without a browser: status codes,
// the not-found page and the refusal of cross-site posts.
func TestDashboardPages(t *testing.T) {
	csv := readSample(t, "sentiment.csv")
	e := newEnv(t, csv)
	id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, "sentiment.csv", csv))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		code int
		says string
	}{
		{"/", http.StatusOK, id},
		{"/?status=running", http.StatusOK, id},
		{"/?status=bogus", http.StatusBadRequest, "status must be"},
		{"/ui/new", http.StatusOK, `enctype="multipart/form-data"`},
		{"/ui/runs/" + id, http.StatusOK, `<svg class="chart"`},
		{"/ui/runs/" + id + "/prompts", http.StatusOK, "initial prompt"},
		{"/ui/runs/" + id + "/examples", http.StatusOK, "has not been scored"},
		{"/ui/runs/" + id + "/examples?split=train", http.StatusBadRequest, "split must be"},
		{"/ui/runs/" + id + "/events", http.StatusOK, "Run created for upload"},
		{"/ui/runs/" + id + "/compare?a=bogus", http.StatusBadRequest, "not a prompt id"},
		{"/ui/runs/abcdefghijklmnopqrstuvwxyz", http.StatusNotFound, "No run abcdefghijklmnopqrstuvwxyz here"},
		{"/ui/runs/nope", http.StatusNotFound, "run ids are 26 characters"},
		{"/ui/static/live.js", http.StatusOK, "/events"},
		{"/ui/static/style.css", http.StatusOK, "svg"},
		{"/runs?status=budget_exhausted", http.StatusOK, `"runs": []`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := e.do(t, http.MethodGet, tc.path, nil)
			if r.code != tc.code || !bytes.Contains(r.body, []byte(tc.says)) {
				t.Errorf("GET %s = %d, want %d with %q:\n%.400s", tc.path, r.code, tc.code, tc.says, r.body)
			}
		})
	}
	t.Run("cross-site cancel refused", func(t *testing.T) {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/ui/runs/"+id+"/cancel", nil)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Errorf("cross-site cancel = %d, want 403", rec.Code)
		}
		if r, _ := e.Store.GetRun(t.Context(), id); r.Status != store.StatusRunning {
			t.Errorf("run is %s after a refused cancel", r.Status)
		}
	})
}
