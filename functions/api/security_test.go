package api_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/promptml/promptml/functions/api"
	"github.com/promptml/promptml/shared/pipeline"
)

// TestHostileNames sends the API ids, versions, gs:// URIs and upload file
// names built to leave their prefix (dot segments, absolute paths, URL
// encoding, backslashes, NUL): each is refused before Firestore or Cloud
// Storage is reached, or reduced to a plain name under uploads/.
func TestHostileNames(t *testing.T) {
	csv := readSample(t, "sentiment.csv")
	e := newEnv(t, csv)
	ctx := t.Context()
	e.Upload(t, "sentiment.csv", csv)

	t.Run("run ids", func(t *testing.T) {
		// A literal ".." is cleaned by the router first: a redirect to the
		// cleaned path, which reads nothing.
		if r := e.do(t, http.MethodGet, "/runs/..", nil); r.code != http.StatusTemporaryRedirect || strings.Contains(r.header.Get("Location"), "..") {
			t.Errorf("GET /runs/.. = %d Location %q, want a redirect to the cleaned path", r.code, r.header.Get("Location"))
		}
		for _, id := range []string{"%2e%2e", "..%2F..%2Fuploads", "..%5C..%5Cx", "%00", "a%00b", "%2Fetc%2Fpasswd",
			strings.Repeat("a", 25) + "%2F", strings.ToUpper("abcdefghijklmnopqrstuvwxyz")} {
			wantError(t, e.do(t, http.MethodGet, "/runs/"+id, nil), http.StatusNotFound, "not found")
			wantError(t, e.do(t, http.MethodGet, "/runs/"+id+"/export", nil), http.StatusNotFound, "not found")
			wantError(t, e.do(t, http.MethodPost, "/runs/"+id+":cancel", nil), http.StatusNotFound, "not found")
		}
	})

	t.Run("export versions and phases", func(t *testing.T) {
		run := strings.Repeat("a", 26) // well-formed, unknown
		for _, v := range []string{"..%2F..%2Fsystem.txt", "%2e%2e", "p0123456789ab%2F..", "%2Fetc%2Fpasswd", "p0123456789ab%00", `p0123456789ab%5C`} {
			wantError(t, e.do(t, http.MethodGet, "/runs/"+run+"/export?version="+v, nil), http.StatusBadRequest, "not a prompt id")
			wantError(t, e.do(t, http.MethodGet, "/runs/"+run+"/examples?phase="+v, nil), http.StatusBadRequest, "not a phase id")
		}
	})

	t.Run("dataset URIs", func(t *testing.T) {
		for _, uri := range []string{
			"gs://datasets//etc/passwd.csv", "gs://datasets/%2e%2e/artifacts/x.csv", "gs://datasets/a/%2E%2e/sentiment.csv",
			`gs://datasets/a\\..\\sentiment.csv`, `gs://datasets/sentiment.csv\u0000.yaml`, "gs://datasets/./sentiment.csv",
		} {
			before, err := e.Store.ListRuns(ctx, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := json.Marshal(map[string]string{"dataset": uri})
			r := e.do(t, http.MethodPost, "/runs", body)
			if r.code != http.StatusBadRequest {
				t.Errorf("POST /runs %q = %d %s, want 400", uri, r.code, r.body)
			}
			after, err := e.Store.ListRuns(ctx, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before) {
				t.Errorf("POST /runs %q created a run", uri)
			}
		}
	})

	t.Run("upload file names", func(t *testing.T) {
		body, ct := namedForm(t, "a\x00b.csv", csv)
		wantError(t, e.post(t, "/runs", body, ct), http.StatusBadRequest, "malformed MIME header")
		for _, name := range []string{"../../artifacts/runs/x/export/system.txt", `..\..\evil.csv`, "/etc/passwd", "%2e%2e%2fx.csv", "..", ""} {
			body, ct := namedForm(t, name, csv)
			r := e.post(t, "/runs", body, ct)
			if r.code != http.StatusCreated {
				t.Fatalf("upload named %q = %d %s, want 201", name, r.code, r.body)
			}
			var got api.StartResponse
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatal(err)
			}
			obj := got.Run.Source.Object
			rest, ok := strings.CutPrefix(obj, pipeline.UploadPrefix)
			parts := strings.Split(rest, "/")
			if !ok || len(parts) != 2 || strings.ContainsAny(parts[1], `\%`+"\x00") || parts[1] == ".." || !strings.HasSuffix(parts[1], ".csv") {
				t.Errorf("upload named %q stored as %q, want uploads/<stamp>/<plain name>.csv", name, obj)
			}
			if got.Run.Source.Bucket != "datasets" {
				t.Errorf("upload named %q stored in bucket %q", name, got.Run.Source.Bucket)
			}
		}
	})
}

// TestBodyLimits: every way a body reaches the API is capped, with a 413
// that says what to do.
func TestBodyLimits(t *testing.T) {
	e := newEnv(t, "")
	bigConfig := strings.Repeat("# padding\n", (1<<20)/10+10)
	body, ct := namedFormWithConfig(t, "a.csv", "user_input,ground_truth_output\na,b\n", bigConfig)
	wantError(t, e.post(t, "/runs", body, ct), http.StatusRequestEntityTooLarge, "config is larger than")

	huge := bytes.Repeat([]byte("x"), 2<<20)
	wantError(t, e.post(t, "/runs?dry_run=true", append([]byte(`{"dataset":"`), huge...), "application/json"), http.StatusRequestEntityTooLarge, "larger than")
	wantError(t, e.post(t, "/runs", append([]byte(`{"dataset":"`), huge...), "application/json"), http.StatusRequestEntityTooLarge, "larger than")
}

// namedForm builds an upload whose csv part has the given file name.
func namedForm(t *testing.T, name, csv string) ([]byte, string) {
	return namedFormWithConfig(t, name, csv, "")
}

func namedFormWithConfig(t *testing.T, name, csv, config string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := make(textproto.MIMEHeader)
	// Written by hand: CreateFormFile would escape the name.
	h.Set("Content-Disposition", `form-data; name="csv"; filename="`+strings.ReplaceAll(name, `"`, "")+`"`)
	h.Set("Content-Type", "text/csv")
	w, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(csv)); err != nil {
		t.Fatal(err)
	}
	if config != "" {
		if err := mw.WriteField("config", config); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}
