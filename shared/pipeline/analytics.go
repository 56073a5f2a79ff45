package pipeline

import (
	"context"
	"fmt"

	"cloud.google.com/go/bigquery"

	"github.com/promptml/promptml/shared/analytics"
	"github.com/promptml/promptml/shared/logging"
	"github.com/promptml/promptml/shared/store"
)

// Analytics are best effort: Firestore is the source of truth, so a failed
// append is logged and the pipeline goes on.
func (p *Pipeline) logAnalytics(ctx context.Context, what string, err error) {
	if err != nil {
		logging.FromContext(ctx).Warn("analytics append failed", "table", what, "error", err.Error())
	}
}

// reportStep reports a committed step: the run's row, and the epoch its
// gate decided (with the optimizer's usage), if any.
func (p *Pipeline) reportStep(ctx context.Context, r *store.Run, st step) {
	p.reportRun(ctx, r)
	if st.Gated != nil {
		p.reportEpoch(ctx, r.ID, st.Gated)
		p.reportModelUsage(ctx, r.ID, "optimizer", fmt.Sprint(st.Gated.N), map[string]store.Usage{st.GatedModel: st.Gated.Usage})
	}
}

func (p *Pipeline) reportRun(ctx context.Context, r *store.Run) {
	if p.analytics == nil || r == nil {
		return
	}
	row := analytics.RunRow{RunID: r.ID, Status: string(r.Status), DatasetURI: r.Dataset.URI, CreatedAt: r.CreatedAt,
		UpdatedAt: r.UpdatedAt, Epoch: int64(r.Epoch), BestPromptID: r.IncumbentID,
		Calls: int64(r.Usage.Calls), InputTokens: int64(r.Usage.InputTokens), OutputTokens: int64(r.Usage.OutputTokens),
		CostUSD: r.Usage.CostUSD, CacheHits: int64(r.Usage.CacheHits)}
	if r.Stage != store.StageIntake && r.Stage != store.StageBaseline {
		row.InitialValScore, row.BestValScore = analytics.Float(r.InitialVal), analytics.Float(r.BestVal)
	}
	if r.Test != nil {
		row.TestScoreInitial, row.TestScoreBest = analytics.Float(r.Test.Initial.Mean), analytics.Float(r.Test.Best.Mean)
	}
	if r.Error != nil {
		row.Error = r.Error.Message
	}
	p.logAnalytics(ctx, analytics.RunsTable, p.analytics.InsertRuns(ctx, []analytics.RunRow{row}))
}

func (p *Pipeline) reportEpoch(ctx context.Context, runID string, e *store.Epoch) {
	if p.analytics == nil {
		return
	}
	row := analytics.EpochRow{RunID: runID, Epoch: int64(e.N), IncumbentID: e.IncumbentID, BestCandidateID: e.BestCandidate,
		IncumbentVal: analytics.Float(e.IncumbentVal), Decision: string(e.Decision), Calls: int64(e.Usage.Calls), CostUSD: e.Usage.CostUSD,
		StartedAt: e.StartedAt, FinishedAt: e.FinishedAt, CandidateIDs: []string{}}
	for _, c := range e.Candidates {
		row.CandidateIDs = append(row.CandidateIDs, c.PromptID)
	}
	if e.BestCandidate != "" {
		row.CandidateVal, row.Delta = analytics.Float(e.BestVal), analytics.Float(e.Delta)
	}
	if e.PValue != nil {
		row.PValue = analytics.Float(*e.PValue)
	}
	p.logAnalytics(ctx, analytics.EpochsTable, p.analytics.InsertEpochs(ctx, []analytics.EpochRow{row}))
}

func (p *Pipeline) reportPhase(ctx context.Context, runID string, ph *store.Phase, results []Result) {
	if p.analytics == nil {
		return
	}
	if pr, err := p.store.GetPrompt(ctx, runID, ph.PromptID); err == nil {
		row := analytics.PromptRow{RunID: runID, PromptID: pr.ID, ParentID: pr.Parent, Epoch: int64(pr.Epoch),
			Strategy: pr.Strategy, SystemPrompt: pr.System, OutputPrompt: pr.Output, Reasoning: pr.Reasoning, Status: pr.Status}
		for split, dst := range map[string]*bigquery.NullFloat64{"train": &row.TrainScore, "val": &row.ValScore, "test": &row.TestScore} {
			if s, ok := pr.Scores[split]; ok {
				*dst = analytics.Float(s.Mean)
			}
		}
		p.logAnalytics(ctx, analytics.PromptVersionsTable, p.analytics.InsertPrompts(ctx, []analytics.PromptRow{row}))
	}
	rows := make([]analytics.ResultRow, 0, len(results))
	for _, res := range results {
		row := analytics.ResultRow{RunID: runID, PhaseID: ph.ID, PromptID: ph.PromptID, Split: ph.Split,
			Batch: int64(res.Batch), ExampleID: res.ID, UserInput: res.Input, Expected: res.Expected, Actual: res.Actual,
			Error: res.Error, LatencyMS: res.LatencyMS, InputTokens: int64(res.Usage.InputTokens), OutputTokens: int64(res.Usage.OutputTokens),
			Cached: res.Cached}
		if res.Score != nil {
			row.Score = *res.Score
		}
		rows = append(rows, row)
	}
	p.logAnalytics(ctx, analytics.ExampleResultsTable, p.analytics.InsertResults(ctx, rows))
}

// modelUsageSink is the optional part of a sink that takes usage by model.
type modelUsageSink interface {
	InsertModelUsage(ctx context.Context, rows []analytics.ModelUsageRow) error
}

// reportModelUsage appends the usage of one unit (a phase, an epoch's
// proposals) by model.
func (p *Pipeline) reportModelUsage(ctx context.Context, runID, scope, unit string, by map[string]store.Usage) {
	sink, ok := p.analytics.(modelUsageSink)
	if !ok || len(by) == 0 {
		return
	}
	rows := make([]analytics.ModelUsageRow, 0, len(by))
	for model, u := range by {
		rows = append(rows, analytics.ModelUsageRow{RunID: runID, Scope: scope, Unit: unit, Model: model, Calls: int64(u.Calls),
			InputTokens: int64(u.InputTokens), OutputTokens: int64(u.OutputTokens), Errors: int64(u.Errors),
			CacheHits: int64(u.CacheHits), CostUSD: u.CostUSD,
			CachedInputTokens: int64(u.CachedInputTokens), ThinkingTokens: int64(u.ThinkingTokens)})
	}
	p.logAnalytics(ctx, analytics.ModelUsageTable, sink.InsertModelUsage(ctx, rows))
}
