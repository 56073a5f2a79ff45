package store

import (
	"time"

	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/llm"
)

// RunStatus is a run's status (runs/{run}.status).
type RunStatus string

// Run statuses.
const (
	StatusRunning   RunStatus = "running"
	StatusSucceeded RunStatus = "succeeded"
	StatusFailed    RunStatus = "failed"
	StatusCancelled RunStatus = "cancelled"
	// StatusBudgetExhausted: the next phase would have crossed the run's
	// budget; the best prompt found so far is exported.
	StatusBudgetExhausted RunStatus = "budget_exhausted"
)

// RunStatuses lists every status, running first.
var RunStatuses = []RunStatus{StatusRunning, StatusSucceeded, StatusFailed, StatusCancelled, StatusBudgetExhausted}

// Terminal reports whether a run with this status has ended.
func (s RunStatus) Terminal() bool { return s != StatusRunning && s != "" }

// Stage is where a run's state machine stands (runs/{run}.stage). The
// graph of stages is shared/pipeline/stages.go.
type Stage string

// Run stages.
const (
	// StageIntake: the CSV is being validated and split.
	StageIntake Stage = "intake"
	// StageBaseline: the initial prompt is scored on train and val.
	StageBaseline Stage = "baseline"
	// StageCandidates: an epoch's candidates are scored on val.
	StageCandidates Stage = "candidates"
	// StageIncumbentTrain: a newly accepted prompt is scored on train so the
	// next epoch can read its failures.
	StageIncumbentTrain Stage = "incumbent_train"
	// StageTest: the initial and the best prompt are scored on test.
	StageTest Stage = "test"
	// StageDone: nothing left to do.
	StageDone Stage = "done"
)

// Phase states (the fan-in: pending → triggered → running → done).
const (
	PhasePending   = "pending"
	PhaseTriggered = "triggered"
	PhaseRunning   = "running"
	PhaseDone      = "done"
)

// Decision is what the gate decided for an epoch (epochs/{n}.decision).
type Decision string

// Epoch decisions.
const (
	DecisionAccepted        Decision = "accepted"
	DecisionRejected        Decision = "rejected"
	DecisionNoChange        Decision = "no_change"
	DecisionOptimizerFailed Decision = "optimizer_failed"
)

// CandidateStatus is where one candidate of an epoch stands
// (epochs/{n}.candidates[i].status).
type CandidateStatus string

// Candidate statuses.
const (
	// CandidateProposed: stored, to be scored on val.
	CandidateProposed CandidateStatus = "candidate"
	// CandidateAccepted and CandidateRejected: the gate's verdict.
	CandidateAccepted CandidateStatus = "accepted"
	CandidateRejected CandidateStatus = "rejected"
	// CandidateNoChange: identical to the incumbent, to another candidate
	// or to an earlier prompt; not scored again.
	CandidateNoChange CandidateStatus = "no_change"
	// CandidateBlocked: a guard rejected it before scoring (placeholders
	// lost, too long, leaked validation/test answers); the reason is in
	// its Note.
	CandidateBlocked CandidateStatus = "blocked"
)

// Scored reports whether a candidate with this status was scored on val.
func (s CandidateStatus) Scored() bool {
	return s == CandidateProposed || s == CandidateAccepted || s == CandidateRejected
}

// Prompt statuses (prompts/{prompt}.status): the initial prompt, or the
// status of the candidate it was.
const (
	PromptInitial   = "initial"
	PromptCandidate = string(CandidateProposed)
	PromptAccepted  = string(CandidateAccepted)
	PromptRejected  = string(CandidateRejected)
)

// Usage counts model calls, tokens and their cost.
type Usage struct {
	Calls        int `firestore:"calls" json:"calls"`
	InputTokens  int `firestore:"input_tokens" json:"input_tokens"`
	OutputTokens int `firestore:"output_tokens" json:"output_tokens"`
	Errors       int `firestore:"errors" json:"errors"`
	// CacheHits are calls answered from the response cache (not paid for,
	// not counted in Calls).
	CacheHits int `firestore:"cache_hits" json:"cache_hits"`
	// CostUSD is the price of the calls at the run's price table.
	CostUSD float64 `firestore:"cost_usd" json:"cost_usd"`
	// CachedInputTokens are the input tokens served from the provider's
	// context cache, and ThinkingTokens the output tokens spent thinking:
	// parts of InputTokens and OutputTokens priced on their own.
	CachedInputTokens int `firestore:"cached_input_tokens,omitempty" json:"cached_input_tokens,omitempty"`
	ThinkingTokens    int `firestore:"thinking_tokens,omitempty" json:"thinking_tokens,omitempty"`
}

// AddCall adds one call's usage.
func (u Usage) AddCall(v llm.Usage) Usage {
	u.Calls++
	u.InputTokens += v.InputTokens
	u.OutputTokens += v.OutputTokens
	u.CachedInputTokens += v.CachedInputTokens
	u.ThinkingTokens += v.ThinkingTokens
	return u
}

// Add returns u + v.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		Calls:        u.Calls + v.Calls,
		InputTokens:  u.InputTokens + v.InputTokens,
		OutputTokens: u.OutputTokens + v.OutputTokens,
		Errors:       u.Errors + v.Errors,
		CacheHits:    u.CacheHits + v.CacheHits,
		CostUSD:      u.CostUSD + v.CostUSD,

		CachedInputTokens: u.CachedInputTokens + v.CachedInputTokens,
		ThinkingTokens:    u.ThinkingTokens + v.ThinkingTokens,
	}
}

// Source is where a run's CSV came from.
type Source struct {
	// Kind is "upload" (storage trigger) or "api" (POST /runs).
	Kind       string `firestore:"kind" json:"kind"`
	Bucket     string `firestore:"bucket" json:"bucket"`
	Object     string `firestore:"object" json:"object"`
	Generation int64  `firestore:"generation" json:"generation"`
}

// Dataset describes the validated CSV.
type Dataset struct {
	URI            string         `firestore:"uri" json:"uri"`
	Generation     int64          `firestore:"generation" json:"generation"`
	SHA256         string         `firestore:"sha256" json:"sha256"`
	Bytes          int64          `firestore:"bytes" json:"bytes"`
	Rows           int            `firestore:"rows" json:"rows"`
	Counts         map[string]int `firestore:"counts" json:"counts"`
	Batches        map[string]int `firestore:"batches" json:"batches"`
	IgnoredColumns []string       `firestore:"ignored_columns,omitempty" json:"ignored_columns,omitempty"`
	// Variables are the columns the prompt templates may name
	// (dataset.Manifest.Variables); UnusedColumns those no template uses.
	Variables     []string `firestore:"variables,omitempty" json:"variables,omitempty"`
	UnusedColumns []string `firestore:"unused_columns,omitempty" json:"unused_columns,omitempty"`
}

// RunError is why a run failed. Row and Column are set for data errors,
// Path for config errors.
type RunError struct {
	Message string `firestore:"message" json:"message"`
	Row     int    `firestore:"row,omitempty" json:"row,omitempty"`
	Column  string `firestore:"column,omitempty" json:"column,omitempty"`
	Path    string `firestore:"path,omitempty" json:"path,omitempty"`
	Stage   Stage  `firestore:"stage,omitempty" json:"stage,omitempty"`
}

// Lease marks who advances a run's stage (or aggregates a phase) and until
// when, so a crashed holder's work is taken over after it expires.
type Lease struct {
	Holder  string    `firestore:"holder" json:"holder"`
	Expires time.Time `firestore:"expires" json:"expires"`
}

// TestResult is the final scoring on the locked test split.
type TestResult struct {
	InitialPromptID string       `firestore:"initial_prompt_id" json:"initial_prompt_id"`
	BestPromptID    string       `firestore:"best_prompt_id" json:"best_prompt_id"`
	Initial         eval.Summary `firestore:"initial" json:"initial"`
	Best            eval.Summary `firestore:"best" json:"best"`
}

// Run is runs/{run}.
type Run struct {
	ID     string    `firestore:"id" json:"id"`
	Status RunStatus `firestore:"status" json:"status"`
	// Stage is the state machine's position; StageSeq increases at every
	// transition and guards them against duplicate messages.
	Stage    Stage `firestore:"stage" json:"stage"`
	StageSeq int   `firestore:"stage_seq" json:"stage_seq"`
	// Pending are the phases the current stage waits for.
	Pending []string `firestore:"pending" json:"pending"`
	// PublishedSeq is the last StageSeq whose fan-out was published: a
	// redelivered message republishes when it is behind.
	PublishedSeq int    `firestore:"published_seq" json:"published_seq"`
	Lease        *Lease `firestore:"lease,omitempty" json:"-"`
	// Outbox holds the events of the last committed transition until they
	// are written to events/ (with the fan-out, or by the next delivery
	// if the committer died): events are derived from what committed.
	Outbox []OutboxEvent `firestore:"outbox,omitempty" json:"-"`

	Config  map[string]any `firestore:"config" json:"config"`
	Source  Source         `firestore:"source" json:"source"`
	Dataset Dataset        `firestore:"dataset" json:"dataset"`

	InitialPromptID string  `firestore:"initial_prompt_id" json:"initial_prompt_id"`
	IncumbentID     string  `firestore:"incumbent_id" json:"incumbent_id"`
	InitialVal      float64 `firestore:"initial_val" json:"initial_val"`
	BestVal         float64 `firestore:"best_val" json:"best_val"`
	Epoch           int     `firestore:"epoch" json:"epoch"`
	StaleEpochs     int     `firestore:"stale_epochs" json:"stale_epochs"`

	Usage Usage `firestore:"usage" json:"usage"`
	// UsageByModel splits Usage by "provider/model".
	UsageByModel map[string]Usage `firestore:"usage_by_model,omitempty" json:"usage_by_model,omitempty"`
	Test         *TestResult      `firestore:"test,omitempty" json:"test,omitempty"`
	Error        *RunError        `firestore:"error,omitempty" json:"error,omitempty"`

	CreatedAt  time.Time `firestore:"created_at" json:"created_at"`
	UpdatedAt  time.Time `firestore:"updated_at" json:"updated_at"`
	FinishedAt time.Time `firestore:"finished_at,omitempty" json:"finished_at,omitzero"`
}

// Terminal reports whether the run has ended.
func (r *Run) Terminal() bool { return r.Status.Terminal() }

// OutboxEvent is an event committed with a transition, to be written under
// its step key.
type OutboxEvent struct {
	Key   string `firestore:"key"`
	Event Event  `firestore:"event"`
}

// Demo is a few-shot demonstration embedded in a prompt.
type Demo struct {
	Input  string `firestore:"input" json:"input"`
	Output string `firestore:"output" json:"output"`
}

// Prompt is runs/{run}/prompts/{prompt}: one prompt version.
type Prompt struct {
	ID       string `firestore:"id" json:"id"`
	System   string `firestore:"system_prompt" json:"system_prompt"`
	Output   string `firestore:"output_prompt" json:"output_prompt"`
	Examples []Demo `firestore:"examples" json:"examples"`
	// Parent is the incumbent the optimizer started from ("" for v0).
	Parent    string `firestore:"parent" json:"parent"`
	Epoch     int    `firestore:"epoch" json:"epoch"`
	Candidate int    `firestore:"candidate" json:"candidate"`
	Strategy  string `firestore:"strategy" json:"strategy"`
	Reasoning string `firestore:"reasoning" json:"reasoning"`
	Status    string `firestore:"status" json:"status"`
	// Scores are the phase summaries by split (train, val, test).
	Scores    map[string]eval.Summary `firestore:"scores" json:"scores"`
	CreatedAt time.Time               `firestore:"created_at" json:"created_at"`
}

// Phase is runs/{run}/phases/{phase}: one prompt scored on one split.
type Phase struct {
	ID           string `firestore:"id" json:"id"`
	Split        string `firestore:"split" json:"split"`
	PromptID     string `firestore:"prompt_id" json:"prompt_id"`
	TotalBatches int    `firestore:"total_batches" json:"total_batches"`
	// DoneBatches is not stored: readers that show progress count the done
	// batch documents (CountDoneBatches, DoneBatchUsage).
	DoneBatches int           `firestore:"-" json:"done_batches"`
	State       string        `firestore:"state" json:"state"`
	Metrics     *eval.Summary `firestore:"metrics,omitempty" json:"metrics,omitempty"`
	// Corpus is the corpus-level value where the metric defines one.
	Corpus *float64 `firestore:"corpus,omitempty" json:"corpus,omitempty"`
	// Usage is stored when the phase finishes; until then readers that
	// show progress (GET /runs/{id}/phases, the dashboard) fill it with the
	// usage of the done batches (DoneBatchUsage).
	Usage Usage `firestore:"usage" json:"usage"`
	// UsageByModel splits Usage by "provider/model".
	UsageByModel map[string]Usage `firestore:"usage_by_model,omitempty" json:"usage_by_model,omitempty"`
	Lease        *Lease           `firestore:"lease,omitempty" json:"-"`
	CreatedAt    time.Time        `firestore:"created_at" json:"created_at"`
	TriggeredAt  time.Time        `firestore:"triggered_at,omitempty" json:"triggered_at,omitzero"`
	DoneAt       time.Time        `firestore:"done_at,omitempty" json:"done_at,omitzero"`
}

// Batch is runs/{run}/phases/{phase}/batches/{n}.
type Batch struct {
	N          int     `firestore:"n" json:"n"`
	Done       bool    `firestore:"done" json:"done"`
	Examples   int     `firestore:"examples" json:"examples"`
	Scored     int     `firestore:"scored" json:"scored"`
	Errors     int     `firestore:"errors" json:"errors"`
	Sum        float64 `firestore:"sum" json:"sum"`
	Passed     int     `firestore:"passed" json:"passed"`
	ResultsURI string  `firestore:"results_uri" json:"results_uri"`
	Usage      Usage   `firestore:"usage" json:"usage"`
	// UsageByModel splits Usage by "provider/model" (the primary model and,
	// with llm_judge, the judge).
	UsageByModel map[string]Usage `firestore:"usage_by_model,omitempty" json:"usage_by_model,omitempty"`
	DurationMS   int64            `firestore:"duration_ms" json:"duration_ms"`
	DoneAt       time.Time        `firestore:"done_at" json:"done_at"`
}

// EpochCandidate is one candidate of an epoch.
type EpochCandidate struct {
	PromptID string  `firestore:"prompt_id" json:"prompt_id"`
	Val      float64 `firestore:"val" json:"val"`
	// Status is candidate, accepted, rejected, no_change or blocked.
	Status CandidateStatus `firestore:"status" json:"status"`
	Note   string          `firestore:"note,omitempty" json:"note,omitempty"`
	// The proposal itself, stored with the epoch so that the prompt version
	// is created from what the epoch kept (never from a lost attempt).
	System    string `firestore:"system_prompt" json:"system_prompt"`
	Output    string `firestore:"output_prompt" json:"output_prompt"`
	Reasoning string `firestore:"reasoning" json:"reasoning"`
	// Examples are the candidate's few-shot demonstrations (training
	// examples only), part of its prompt id.
	Examples []Demo `firestore:"examples,omitempty" json:"examples,omitempty"`
	// Tries is how many optimizer replies the proposal took (1 = the
	// first was valid).
	Tries int `firestore:"tries,omitempty" json:"tries,omitempty"`
}

// Epoch is runs/{run}/epochs/{n}.
type Epoch struct {
	N              int              `firestore:"n" json:"n"`
	IncumbentID    string           `firestore:"incumbent_id" json:"incumbent_id"`
	IncumbentTrain float64          `firestore:"incumbent_train" json:"incumbent_train"`
	IncumbentVal   float64          `firestore:"incumbent_val" json:"incumbent_val"`
	Candidates     []EpochCandidate `firestore:"candidates" json:"candidates"`
	BestCandidate  string           `firestore:"best_candidate" json:"best_candidate"`
	BestVal        float64          `firestore:"best_val" json:"best_val"`
	Delta          float64          `firestore:"delta" json:"delta"`
	// Strategy is the optimizer strategy the epoch used (auto resolves to
	// one of rewrite, edit, fewshot).
	Strategy string `firestore:"strategy,omitempty" json:"strategy,omitempty"`
	// GateTest is the paired test the gate ran: mcnemar, bootstrap or none.
	GateTest string   `firestore:"gate_test,omitempty" json:"gate_test,omitempty"`
	PValue   *float64 `firestore:"p_value,omitempty" json:"p_value,omitempty"`
	Decision Decision `firestore:"decision" json:"decision"`
	// Note explains an optimizer_failed epoch.
	Note string `firestore:"note,omitempty" json:"note,omitempty"`
	// NewIncumbentTrain is the accepted candidate's train score, once known.
	NewIncumbentTrain *float64  `firestore:"new_incumbent_train,omitempty" json:"new_incumbent_train,omitempty"`
	Usage             Usage     `firestore:"usage" json:"usage"`
	StartedAt         time.Time `firestore:"started_at" json:"started_at"`
	FinishedAt        time.Time `firestore:"finished_at,omitempty" json:"finished_at,omitzero"`
}

// Event is runs/{run}/events/{id}: one human-readable line of the run's log.
type Event struct {
	ID      string         `firestore:"id" json:"id"`
	Time    time.Time      `firestore:"time" json:"time"`
	Kind    string         `firestore:"kind" json:"kind"`
	Message string         `firestore:"message" json:"message"`
	Epoch   int            `firestore:"epoch" json:"epoch"`
	PhaseID string         `firestore:"phase_id,omitempty" json:"phase_id,omitempty"`
	Data    map[string]any `firestore:"data,omitempty" json:"data,omitempty"`
	// ExpireAt is when Firestore's TTL policy deletes the event (Time +
	// the store's retention; unset without one). Not part of the API.
	ExpireAt time.Time `firestore:"expire_at,omitempty" json:"-"`
}
