// Package analytics appends promptml's reporting rows to BigQuery, where
// Looker Studio reads them.
//
// The tables are append-only: a run, an epoch or a prompt version is written
// again every time it changes, and the *_latest views (terraform/bigquery.tf)
// keep the newest row per key. Rows carry deterministic insert IDs so that a
// retried insert is dropped by BigQuery's best-effort de-duplication; the
// views make the rest of at-least-once delivery harmless.
//
// The Go row types below are the schema: terraform/bigquery.tf declares the
// same columns, and a test in terraform/ compares the two.
package analytics

import (
	"time"

	"cloud.google.com/go/bigquery"
)

// Table names in the analytics dataset.
const (
	RunsTable           = "runs"
	EpochsTable         = "epochs"
	PromptVersionsTable = "prompt_versions"
	ExampleResultsTable = "example_results"
	ModelUsageTable     = "model_usage"
)

// RunRow is one snapshot of a run (table runs, view runs_latest, key run_id).
type RunRow struct {
	RunID      string    `bigquery:"run_id"`
	Status     string    `bigquery:"status"`
	DatasetURI string    `bigquery:"dataset_uri"`
	CreatedAt  time.Time `bigquery:"created_at"`
	UpdatedAt  time.Time `bigquery:"updated_at"`
	// Epoch is the last epoch started.
	Epoch        int64  `bigquery:"epoch"`
	BestPromptID string `bigquery:"best_prompt_id"`
	// Scores are NULL until they are known, so that a chart never plots an
	// unknown score as 0.
	InitialValScore  bigquery.NullFloat64 `bigquery:"initial_val_score"`
	BestValScore     bigquery.NullFloat64 `bigquery:"best_val_score"`
	TestScoreInitial bigquery.NullFloat64 `bigquery:"test_score_initial"`
	TestScoreBest    bigquery.NullFloat64 `bigquery:"test_score_best"`
	Calls            int64                `bigquery:"calls"`
	InputTokens      int64                `bigquery:"input_tokens"`
	OutputTokens     int64                `bigquery:"output_tokens"`
	CostUSD          float64              `bigquery:"cost_usd"`
	// CacheHits are model calls answered from the response cache.
	CacheHits int64  `bigquery:"cache_hits"`
	Error     string `bigquery:"error"`
	// InsertedAt is set by the Writer when zero; it orders the snapshots.
	InsertedAt time.Time `bigquery:"inserted_at"`
}

// EpochRow is one epoch's validation-gate outcome (table epochs, view
// epochs_latest, key run_id + epoch).
type EpochRow struct {
	RunID           string               `bigquery:"run_id"`
	Epoch           int64                `bigquery:"epoch"`
	IncumbentID     string               `bigquery:"incumbent_id"`
	CandidateIDs    []string             `bigquery:"candidate_ids"`
	BestCandidateID string               `bigquery:"best_candidate_id"`
	IncumbentVal    bigquery.NullFloat64 `bigquery:"incumbent_val"`
	CandidateVal    bigquery.NullFloat64 `bigquery:"candidate_val"`
	Delta           bigquery.NullFloat64 `bigquery:"delta"`
	PValue          bigquery.NullFloat64 `bigquery:"p_value"`
	// Decision is what the gate did, e.g. "accepted" or "rejected".
	Decision   string    `bigquery:"decision"`
	Calls      int64     `bigquery:"calls"`
	CostUSD    float64   `bigquery:"cost_usd"`
	StartedAt  time.Time `bigquery:"started_at"`
	FinishedAt time.Time `bigquery:"finished_at"`
	InsertedAt time.Time `bigquery:"inserted_at"`
}

// PromptRow is one snapshot of a prompt version (table prompt_versions, view
// prompt_versions_latest, key run_id + prompt_id).
type PromptRow struct {
	RunID        string               `bigquery:"run_id"`
	PromptID     string               `bigquery:"prompt_id"`
	ParentID     string               `bigquery:"parent_id"`
	Epoch        int64                `bigquery:"epoch"`
	Strategy     string               `bigquery:"strategy"`
	SystemPrompt string               `bigquery:"system_prompt"`
	OutputPrompt string               `bigquery:"output_prompt"`
	Reasoning    string               `bigquery:"reasoning"`
	TrainScore   bigquery.NullFloat64 `bigquery:"train_score"`
	ValScore     bigquery.NullFloat64 `bigquery:"val_score"`
	TestScore    bigquery.NullFloat64 `bigquery:"test_score"`
	Status       string               `bigquery:"status"`
	InsertedAt   time.Time            `bigquery:"inserted_at"`
}

// ResultRow is one example answered and scored in one phase (table
// example_results, view example_results_latest, key run_id + phase_id +
// example_id).
type ResultRow struct {
	RunID        string  `bigquery:"run_id"`
	PhaseID      string  `bigquery:"phase_id"`
	PromptID     string  `bigquery:"prompt_id"`
	Split        string  `bigquery:"split"`
	Batch        int64   `bigquery:"batch"`
	ExampleID    string  `bigquery:"example_id"`
	UserInput    string  `bigquery:"user_input"`
	Expected     string  `bigquery:"expected"`
	Actual       string  `bigquery:"actual"`
	Score        float64 `bigquery:"score"`
	Error        string  `bigquery:"error"`
	LatencyMS    int64   `bigquery:"latency_ms"`
	InputTokens  int64   `bigquery:"input_tokens"`
	OutputTokens int64   `bigquery:"output_tokens"`
	// Cached is true when the answer came from the response cache (its
	// tokens were not paid for again).
	Cached     bool      `bigquery:"cached"`
	InsertedAt time.Time `bigquery:"inserted_at"`
}

// ModelUsageRow is the usage of one model in one unit of a run: a phase
// (scope "phase": the primary and, with llm_judge, the judge) or an epoch's
// proposals (scope "optimizer"). Table model_usage, view
// model_usage_latest, key run_id + scope + unit + model; run totals per
// model are its sums.
type ModelUsageRow struct {
	RunID string `bigquery:"run_id"`
	// Scope is "phase" or "optimizer".
	Scope string `bigquery:"scope"`
	// Unit is the phase id, or the epoch number for the optimizer.
	Unit         string  `bigquery:"unit"`
	Model        string  `bigquery:"model"`
	Calls        int64   `bigquery:"calls"`
	InputTokens  int64   `bigquery:"input_tokens"`
	OutputTokens int64   `bigquery:"output_tokens"`
	Errors       int64   `bigquery:"errors"`
	CacheHits    int64   `bigquery:"cache_hits"`
	CostUSD      float64 `bigquery:"cost_usd"`
	// CachedInputTokens and ThinkingTokens are the parts of InputTokens
	// and OutputTokens priced on their own (docs/llm.md#usage-and-cost).
	CachedInputTokens int64     `bigquery:"cached_input_tokens"`
	ThinkingTokens    int64     `bigquery:"thinking_tokens"`
	InsertedAt        time.Time `bigquery:"inserted_at"`
}

// Float returns a known (non-NULL) score for the nullable columns.
func Float(v float64) bigquery.NullFloat64 {
	return bigquery.NullFloat64{Float64: v, Valid: true}
}

// schemas is inferred once from the row types; an error here is a
// programming mistake in a struct tag, so it panics at init.
var schemas = map[string]bigquery.Schema{
	RunsTable:           mustInfer(RunRow{}),
	EpochsTable:         mustInfer(EpochRow{}),
	PromptVersionsTable: mustInfer(PromptRow{}),
	ExampleResultsTable: mustInfer(ResultRow{}),
	ModelUsageTable:     mustInfer(ModelUsageRow{}),
}

func mustInfer(row any) bigquery.Schema {
	s, err := bigquery.InferSchema(row)
	if err != nil {
		panic("analytics: " + err.Error())
	}
	return s
}

// Schemas returns the schema of every analytics table, keyed by table name,
// as inferred from the row types. Local tooling uses it to create tables; the
// Terraform test uses it to check terraform/bigquery.tf.
func Schemas() map[string]bigquery.Schema {
	out := make(map[string]bigquery.Schema, len(schemas))
	for k, v := range schemas {
		out[k] = v
	}
	return out
}
