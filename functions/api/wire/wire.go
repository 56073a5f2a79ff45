// Package wire is the JSON contract of the HTTP API: the types its replies
// are made of, built from the Firestore documents, and decoded by the CLI.
// The state machine's internals (a run's stage_seq, published_seq, pending
// and outbox, the leases of runs and phases) are not part of it; a field
// added to a document reaches the API only when it is added here.
package wire

import (
	"time"

	"github.com/promptml/promptml/shared/eval"
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
func FromRuns(runs []*store.Run) []*Run { return list(runs, FromRun) }

// Prompt is a prompt version (GET /runs/{id}/prompts[/{prompt}]).
type Prompt struct {
	ID     string `json:"id"`
	System string `json:"system_prompt"`
	// User is the template of the user turn (absent in a version stored
	// before templates: the run's prompt.user).
	User     string       `json:"user_prompt,omitempty"`
	Output   string       `json:"output_prompt"`
	Examples []store.Demo `json:"examples"`
	// Parent is the incumbent the optimizer started from ("" for v0).
	Parent    string `json:"parent"`
	Epoch     int    `json:"epoch"`
	Candidate int    `json:"candidate"`
	Strategy  string `json:"strategy"`
	Reasoning string `json:"reasoning"`
	Status    string `json:"status"`
	// Scores are the phase summaries by split (train, val, test).
	Scores    map[string]eval.Summary `json:"scores"`
	CreatedAt time.Time               `json:"created_at"`
}

// FromPrompt is the API's view of a prompt version.
func FromPrompt(p *store.Prompt) *Prompt {
	if p == nil {
		return nil
	}
	return &Prompt{ID: p.ID, System: p.System, User: p.User, Output: p.Output, Examples: p.Examples, Parent: p.Parent, Epoch: p.Epoch,
		Candidate: p.Candidate, Strategy: p.Strategy, Reasoning: p.Reasoning, Status: p.Status, Scores: p.Scores, CreatedAt: p.CreatedAt}
}

// Candidate is one candidate of an epoch: its proposal and the gate's
// verdict.
type Candidate struct {
	PromptID string  `json:"prompt_id"`
	Val      float64 `json:"val"`
	// Status is candidate, accepted, rejected, no_change or blocked.
	Status    store.CandidateStatus `json:"status"`
	Note      string                `json:"note,omitempty"`
	System    string                `json:"system_prompt"`
	User      string                `json:"user_prompt,omitempty"`
	Output    string                `json:"output_prompt"`
	Reasoning string                `json:"reasoning"`
	Examples  []store.Demo          `json:"examples,omitempty"`
	// Tries is how many optimizer replies the proposal took.
	Tries int `json:"tries,omitempty"`
}

// Epoch is one optimizer epoch (GET /runs/{id}/epochs).
type Epoch struct {
	N              int         `json:"n"`
	IncumbentID    string      `json:"incumbent_id"`
	IncumbentTrain float64     `json:"incumbent_train"`
	IncumbentVal   float64     `json:"incumbent_val"`
	Candidates     []Candidate `json:"candidates"`
	BestCandidate  string      `json:"best_candidate"`
	BestVal        float64     `json:"best_val"`
	Delta          float64     `json:"delta"`
	Strategy       string      `json:"strategy,omitempty"`
	// GateTest is the paired test the gate ran: mcnemar, bootstrap or none.
	GateTest string         `json:"gate_test,omitempty"`
	PValue   *float64       `json:"p_value,omitempty"`
	Decision store.Decision `json:"decision"`
	// Note explains an optimizer_failed epoch.
	Note              string      `json:"note,omitempty"`
	NewIncumbentTrain *float64    `json:"new_incumbent_train,omitempty"`
	Usage             store.Usage `json:"usage"`
	StartedAt         time.Time   `json:"started_at"`
	FinishedAt        time.Time   `json:"finished_at,omitzero"`
}

// FromEpoch is the API's view of an epoch.
func FromEpoch(e *store.Epoch) *Epoch {
	if e == nil {
		return nil
	}
	var cs []Candidate
	if e.Candidates != nil {
		cs = make([]Candidate, 0, len(e.Candidates))
	}
	for _, c := range e.Candidates {
		cs = append(cs, Candidate{PromptID: c.PromptID, Val: c.Val, Status: c.Status, Note: c.Note, System: c.System, User: c.User,
			Output: c.Output, Reasoning: c.Reasoning, Examples: c.Examples, Tries: c.Tries})
	}
	return &Epoch{N: e.N, IncumbentID: e.IncumbentID, IncumbentTrain: e.IncumbentTrain, IncumbentVal: e.IncumbentVal,
		Candidates: cs, BestCandidate: e.BestCandidate, BestVal: e.BestVal, Delta: e.Delta, Strategy: e.Strategy,
		GateTest: e.GateTest, PValue: e.PValue, Decision: e.Decision, Note: e.Note, NewIncumbentTrain: e.NewIncumbentTrain,
		Usage: e.Usage, StartedAt: e.StartedAt, FinishedAt: e.FinishedAt}
}

// Phase is one prompt scored on one split (GET /runs/{id}/phases), with
// its progress; the aggregator's lease is not part of it.
type Phase struct {
	ID           string `json:"id"`
	Split        string `json:"split"`
	PromptID     string `json:"prompt_id"`
	TotalBatches int    `json:"total_batches"`
	DoneBatches  int    `json:"done_batches"`
	// State is pending, triggered, running or done.
	State   string        `json:"state"`
	Metrics *eval.Summary `json:"metrics,omitempty"`
	// Corpus is the corpus-level value where the metric defines one.
	Corpus *float64 `json:"corpus,omitempty"`
	// Usage is what the phase used (so far, until it is done).
	Usage        store.Usage            `json:"usage"`
	UsageByModel map[string]store.Usage `json:"usage_by_model,omitempty"`
	CreatedAt    time.Time              `json:"created_at"`
	TriggeredAt  time.Time              `json:"triggered_at,omitzero"`
	DoneAt       time.Time              `json:"done_at,omitzero"`
}

// FromPhase is the API's view of a phase.
func FromPhase(p *store.Phase) *Phase {
	if p == nil {
		return nil
	}
	return &Phase{ID: p.ID, Split: p.Split, PromptID: p.PromptID, TotalBatches: p.TotalBatches, DoneBatches: p.DoneBatches,
		State: p.State, Metrics: p.Metrics, Corpus: p.Corpus, Usage: p.Usage, UsageByModel: p.UsageByModel,
		CreatedAt: p.CreatedAt, TriggeredAt: p.TriggeredAt, DoneAt: p.DoneAt}
}

// Event is one line of a run's log (GET /runs/{id}/events).
type Event struct {
	ID      string         `json:"id"`
	Time    time.Time      `json:"time"`
	Kind    string         `json:"kind"`
	Message string         `json:"message"`
	Epoch   int            `json:"epoch"`
	PhaseID string         `json:"phase_id,omitempty"`
	Data    map[string]any `json:"data,omitempty"`
}

// FromEvent is the API's view of an event.
func FromEvent(e *store.Event) *Event {
	if e == nil {
		return nil
	}
	return &Event{ID: e.ID, Time: e.Time, Kind: e.Kind, Message: e.Message, Epoch: e.Epoch, PhaseID: e.PhaseID, Data: e.Data}
}

// list maps from over docs (never nil: an empty list is []).
func list[D, W any](docs []*D, from func(*D) *W) []*W {
	out := make([]*W, 0, len(docs))
	for _, d := range docs {
		out = append(out, from(d))
	}
	return out
}

// Prompts is the reply of GET /runs/{id}/prompts.
type Prompts struct {
	Prompts []*Prompt `json:"prompts"`
}

// Epochs is the reply of GET /runs/{id}/epochs.
type Epochs struct {
	Epochs []*Epoch `json:"epochs"`
}

// Phases is the reply of GET /runs/{id}/phases.
type Phases struct {
	Phases []*Phase `json:"phases"`
}

// Events is the reply of GET /runs/{id}/events.
type Events struct {
	Events []*Event `json:"events"`
}

// FromPrompts is the reply of GET /runs/{id}/prompts.
func FromPrompts(ps []*store.Prompt) Prompts { return Prompts{list(ps, FromPrompt)} }

// FromEpochs is the reply of GET /runs/{id}/epochs.
func FromEpochs(es []*store.Epoch) Epochs { return Epochs{list(es, FromEpoch)} }

// FromPhases is the reply of GET /runs/{id}/phases.
func FromPhases(ps []*store.Phase) Phases { return Phases{list(ps, FromPhase)} }

// FromEvents is the reply of GET /runs/{id}/events.
func FromEvents(es []*store.Event) Events { return Events{list(es, FromEvent)} }

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
