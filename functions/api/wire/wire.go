// Package wire is the JSON contract of the HTTP API: the types its replies
// are made of, built from the Firestore documents, and decoded by the CLI.
// A run's state-machine internals (stage_seq, published_seq, pending, the
// lease, the event outbox) are not part of it; a field added to a document
// reaches the API only when it is added here.
package wire

import (
	"time"

	"github.com/promptml/promptml/shared/store"
)

// Run is a run as the API shows it (GET /runs/{id}, the items of GET
// /runs, the run of POST /runs and of a cancel).
type Run struct {
	ID     string          `json:"id"`
	Status store.RunStatus `json:"status"`
	// Stage is where the run stands: intake, baseline, candidates,
	// incumbent_train, test, done.
	Stage   store.Stage    `json:"stage"`
	Config  map[string]any `json:"config"`
	Source  store.Source   `json:"source"`
	Dataset store.Dataset  `json:"dataset"`

	InitialPromptID string  `json:"initial_prompt_id"`
	IncumbentID     string  `json:"incumbent_id"`
	InitialVal      float64 `json:"initial_val"`
	BestVal         float64 `json:"best_val"`
	Epoch           int     `json:"epoch"`
	StaleEpochs     int     `json:"stale_epochs"`

	Usage        store.Usage            `json:"usage"`
	UsageByModel map[string]store.Usage `json:"usage_by_model,omitempty"`
	Test         *store.TestResult      `json:"test,omitempty"`
	Error        *store.RunError        `json:"error,omitempty"`

	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// Terminal reports whether the run has ended.
func (r *Run) Terminal() bool { return r.Status.Terminal() }

// FromRun is the API's view of a run document.
func FromRun(r *store.Run) *Run {
	if r == nil {
		return nil
	}
	return &Run{ID: r.ID, Status: r.Status, Stage: r.Stage, Config: r.Config, Source: r.Source, Dataset: r.Dataset,
		InitialPromptID: r.InitialPromptID, IncumbentID: r.IncumbentID, InitialVal: r.InitialVal, BestVal: r.BestVal,
		Epoch: r.Epoch, StaleEpochs: r.StaleEpochs, Usage: r.Usage, UsageByModel: r.UsageByModel, Test: r.Test, Error: r.Error,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, FinishedAt: r.FinishedAt}
}

// FromRuns maps FromRun over runs (never nil: an empty list is []).
func FromRuns(runs []*store.Run) []*Run {
	out := make([]*Run, 0, len(runs))
	for _, r := range runs {
		out = append(out, FromRun(r))
	}
	return out
}

// The other documents are shown as they are stored: their JSON forms hold
// no state-machine internals (leases are never encoded). They are named
// here so the API and the CLI depend on this package only.
type (
	Prompt = store.Prompt
	Epoch  = store.Epoch
	Phase  = store.Phase
	Event  = store.Event
)

// Runs is the reply of GET /runs.
type Runs struct {
	Runs []*Run `json:"runs"`
}

// StartResponse is the reply of POST /runs (201, or 422 for a run that
// failed its intake: bad config or CSV, its error on the run).
type StartResponse struct {
	Run *Run `json:"run"`
}

// Error is the JSON of every error reply. ID, on a 500, names the log
// line that has the details.
type Error struct {
	Error string `json:"error"`
	ID    string `json:"error_id,omitempty"`
}
