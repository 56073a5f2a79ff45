package api

import (
	"net/http"

	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/pipeline"
)

// DryRunResponse is the reply of POST /runs?dry_run=true: what the run
// would spend at most, computed before anything is spent.
type DryRunResponse struct {
	DryRun   bool               `json:"dry_run"`
	Estimate *pipeline.Estimate `json:"estimate"`
}

// dryRun answers POST /runs?dry_run=true: no run is created, no model is
// called. A bad dataset or config is a 422 with its message.
func (h *Handler) dryRun(w http.ResponseWriter, r *http.Request, req pipeline.StartRequest) {
	est, err := h.p.DryRun(r.Context(), req)
	h.writeEstimate(w, r, est, err)
}

// writeEstimate answers a dry run with its estimate, or its error: a bad
// dataset or config is a 422.
func (h *Handler) writeEstimate(w http.ResponseWriter, r *http.Request, est *pipeline.Estimate, err error) {
	switch {
	case errs.KindOf(err) == errs.InvalidArgument:
		writeError(w, http.StatusUnprocessableEntity, errs.Message(err))
	case err != nil:
		fail(r.Context(), w, err)
	default:
		writeJSON(w, http.StatusOK, DryRunResponse{DryRun: true, Estimate: est})
	}
}
