package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/promptml/promptml/functions/api/wire"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/store"
)

// Limits of POST /runs with multipart/form-data. A Cloud Functions HTTP
// request is at most 32 MiB; a larger CSV goes to the datasets bucket first
// and is started by its gs:// URI.
const (
	MaxUploadBytes = 32 << 20
	maxConfigBytes = 1 << 20
)

// isMultipart reports whether r carries a form upload.
func isMultipart(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

// byContentType routes POST /runs: a multipart form is an upload, anything
// else the JSON request.
func byContentType(jsonBody, upload http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if isMultipart(r) {
			upload(w, r)
			return
		}
		jsonBody(w, r)
	}
}

// bodyLimit is the request body cap: uploads carry a CSV, everything else
// a small JSON document.
func bodyLimit(r *http.Request) int64 {
	if r.Method == http.MethodPost && isMultipart(r) {
		return MaxUploadBytes + maxConfigBytes
	}
	return maxBody
}

// UploadError is an upload the API refused, with what to do instead.
type UploadError struct {
	Code int
	Msg  string
}

func (e *UploadError) Error() string { return e.Msg }

// ReadUpload reads the form of an upload: a "csv" file part (required) and
// a "config" part (YAML or JSON, file or text; optional). Other parts are
// refused so a typo is not silently ignored.
func ReadUpload(r *http.Request) (pipeline.UploadRequest, error) {
	var req pipeline.UploadRequest
	mr, err := r.MultipartReader()
	if err != nil {
		return req, &UploadError{http.StatusBadRequest, "body must be multipart/form-data with a csv file part: " + err.Error()}
	}
	seenCSV := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return req, tooLargeOr(err, "reading the form: "+err.Error())
		}
		switch part.FormName() {
		case "csv":
			req.Name = part.FileName()
			if req.Name == "" {
				req.Name = "data.csv"
			}
			if req.CSV, err = readPart(part, MaxUploadBytes); err != nil {
				return req, tooLargeOr(err, "reading csv: "+err.Error())
			}
			if len(req.CSV) > MaxUploadBytes {
				return req, &UploadError{http.StatusRequestEntityTooLarge, fmt.Sprintf(
					"the CSV is larger than %d MiB: copy it to the datasets bucket and start the run with its gs:// URI", MaxUploadBytes>>20)}
			}
			seenCSV = true
		case "config":
			if req.Config, err = readPart(part, maxConfigBytes); err != nil {
				return req, tooLargeOr(err, "reading config: "+err.Error())
			}
			if len(req.Config) > maxConfigBytes {
				return req, &UploadError{http.StatusRequestEntityTooLarge, fmt.Sprintf("the config is larger than %d KiB", maxConfigBytes>>10)}
			}
			if strings.TrimSpace(string(req.Config)) == "" {
				req.Config = nil
			}
		default:
			return req, &UploadError{http.StatusBadRequest, fmt.Sprintf("unknown form field %q: send csv (file) and optionally config (YAML or JSON)", part.FormName())}
		}
	}
	if !seenCSV || len(req.CSV) == 0 {
		return req, &UploadError{http.StatusBadRequest, "the form has no csv file (or it is empty): attach a CSV with user_input,ground_truth_output columns as the csv field"}
	}
	return req, nil
}

// readPart reads at most limit+1 bytes, so the caller can tell "too large".
func readPart(p *multipart.Part, limit int64) ([]byte, error) {
	return io.ReadAll(io.LimitReader(p, limit+1))
}

func tooLargeOr(err error, msg string) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &UploadError{http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"request larger than %d MiB: copy the CSV to the datasets bucket and start the run with its gs:// URI", mbe.Limit>>20)}
	}
	return &UploadError{http.StatusBadRequest, msg}
}

// uploadRun serves POST /runs with multipart/form-data: the CSV is stored in
// the datasets bucket (with the config as its sidecar) and its run started.
func (h *Handler) uploadRun(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, err := ReadUpload(r)
	if err != nil {
		var ue *UploadError
		if errors.As(err, &ue) {
			writeError(w, ue.Code, ue.Msg)
			return
		}
		fail(ctx, w, err)
		return
	}
	if r.URL.Query().Get("dry_run") == "true" {
		// The estimate of the form's CSV and config; nothing is stored.
		est, err := h.p.DryRunCSV(ctx, req)
		h.writeEstimate(w, r, est, err)
		return
	}
	run, err := h.p.StartFromCSV(ctx, req)
	if err != nil {
		fail(ctx, w, err)
		return
	}
	if run.Status == store.StatusFailed {
		writeJSON(w, http.StatusUnprocessableEntity, StartResponse{Run: wire.FromRun(run)})
		return
	}
	w.Header().Set("Location", "/runs/"+run.ID)
	writeJSON(w, http.StatusCreated, StartResponse{Run: wire.FromRun(run)})
}

// StatusCode is the HTTP status of the refusal.
func (e *UploadError) StatusCode() int { return e.Code }
