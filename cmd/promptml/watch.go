package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/promptml/promptml/functions/api/wire"
	"github.com/promptml/promptml/shared/store"
)

// Summary is the final summary of a run (`promptml local --json`, `watch
// --json`, `run --watch --json`). It is a shown value, like the text
// output: its numbers are rounded to 12 significant digits (round12), which
// drops the binary noise of sums and differences (a delta of
// 0.30000000000000004 is 0.3) and no digit a score or a cost can carry.
// The stored values keep full precision: the run, epoch and prompt
// documents, which `status --json`, `runs --json` and the API return as
// they are (issue 17 item 12).
type Summary struct {
	RunID       string          `json:"run_id"`
	Status      store.RunStatus `json:"status"`
	Error       *store.RunError `json:"error,omitempty"`
	Dataset     store.Dataset   `json:"dataset"`
	Epochs      []EpochRow      `json:"epochs"`
	Initial     PromptScores    `json:"initial"`
	Final       PromptScores    `json:"final"`
	Usage       store.Usage     `json:"usage"`
	WallSeconds float64         `json:"wall_seconds"`
}

// EpochRow is one line of the epoch table.
type EpochRow struct {
	Epoch          int            `json:"epoch"`
	IncumbentID    string         `json:"incumbent_id"`
	IncumbentTrain float64        `json:"incumbent_train"`
	IncumbentVal   float64        `json:"incumbent_val"`
	CandidateIDs   []string       `json:"candidate_ids"`
	CandidateVal   *float64       `json:"candidate_val,omitempty"`
	Delta          float64        `json:"delta"`
	Decision       store.Decision `json:"decision"`
	Accepted       bool           `json:"accepted"`
}

// PromptScores are a prompt and its val and test scores.
type PromptScores struct {
	PromptID string `json:"prompt_id"`
	// Val is nil (null) while the prompt has no val score.
	Val          *float64 `json:"val"`
	Test         *float64 `json:"test,omitempty"`
	SystemPrompt string   `json:"system_prompt"`
	OutputPrompt string   `json:"output_prompt"`
}

func summarize(ctx context.Context, api *apiClient, r *wire.Run) (*Summary, error) {
	s := &Summary{RunID: r.ID, Status: r.Status, Error: r.Error, Dataset: r.Dataset, Usage: r.Usage, Epochs: []EpochRow{}}
	s.Usage.CostUSD = round12(s.Usage.CostUSD)
	if r.Status == store.StatusFailed && r.InitialPromptID == "" {
		return s, nil
	}
	epochs, err := api.epochs(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	for _, e := range epochs {
		row := EpochRow{Epoch: e.N, IncumbentID: e.IncumbentID, IncumbentTrain: round12(e.IncumbentTrain), IncumbentVal: round12(e.IncumbentVal),
			Delta: round12(e.Delta), Decision: e.Decision, Accepted: e.Decision == store.DecisionAccepted, CandidateIDs: []string{}}
		for _, c := range e.Candidates {
			row.CandidateIDs = append(row.CandidateIDs, c.PromptID)
		}
		if e.BestCandidate != "" {
			v := round12(e.BestVal)
			row.CandidateVal = &v
		}
		s.Epochs = append(s.Epochs, row)
	}
	prompts, err := api.prompts(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	for _, p := range prompts {
		ps := PromptScores{PromptID: p.ID, SystemPrompt: p.System, OutputPrompt: p.Output}
		if v, ok := p.Scores["val"]; ok {
			m := round12(v.Mean)
			ps.Val = &m
		}
		if t, ok := p.Scores["test"]; ok {
			v := round12(t.Mean)
			ps.Test = &v
		}
		if p.ID == r.InitialPromptID {
			s.Initial = ps
		}
		if p.ID == r.IncumbentID {
			s.Final = ps
		}
	}
	return s, nil
}

func printSummary(out io.Writer, s *Summary) {
	fmt.Fprintln(out)
	if s.Status == store.StatusFailed && s.Error != nil {
		fmt.Fprintf(out, "Run %s FAILED: %s\n", s.RunID, s.Error.Message)
		return
	}
	printEpochTable(out, s.Epochs)
	if s.Initial.Val == nil && s.Final.Val == nil {
		fmt.Fprintf(out, "\nRun %s %s. Val: not scored (the run ended before its baseline).", s.RunID, s.Status)
	} else {
		fmt.Fprintf(out, "\nRun %s %s. Val: initial %s → final %s.", s.RunID, s.Status, scorePtr3(s.Initial.Val), scorePtr3(s.Final.Val))
	}
	if s.Initial.Test != nil || s.Final.Test != nil {
		fmt.Fprintf(out, " Test: initial %s, final %s.", scorePtr3(s.Initial.Test), scorePtr3(s.Final.Test))
	}
	fmt.Fprintf(out, "\nUsage: %d LLM calls, %d input and %d output tokens, %d cache hits, $%.4f.\n", s.Usage.Calls, s.Usage.InputTokens, s.Usage.OutputTokens, s.Usage.CacheHits, s.Usage.CostUSD)
	fmt.Fprintf(out, "\nFinal system prompt (%s):\n%s\n\nFinal output prompt:\n%s\n", s.Final.PromptID, indent(s.Final.SystemPrompt), indent(s.Final.OutputPrompt))
}

// printEpochTable prints one line per epoch.
func printEpochTable(out io.Writer, epochs []EpochRow) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "epoch\tincumbent train\tincumbent val\tcandidate val\taccepted?")
	for _, e := range epochs {
		cand := "-"
		if e.CandidateVal != nil {
			cand = fmt.Sprintf("%.3f", *e.CandidateVal)
		}
		acc := "no (" + string(e.Decision) + ")"
		switch {
		case e.Accepted:
			acc = "yes"
		case e.Decision == "":
			acc = "-" // the gate has not decided (running, or the run ended first)
		}
		fmt.Fprintf(tw, "%d\t%.3f\t%.3f\t%s\t%s\n", e.Epoch, e.IncumbentTrain, e.IncumbentVal, cand, acc)
	}
	_ = tw.Flush()
}

// pvalue prints a p-value with three decimals, and one below 0.001 as
// "<0.001" rather than a misleading "0.000".
func pvalue(p float64) string {
	if p < 0.0005 {
		return "<0.001"
	}
	return fmt.Sprintf("%.3f", p)
}

// round12 rounds v to 12 significant digits: the float nearest that decimal,
// which encoding/json writes in its shortest form (0.3, not
// 0.30000000000000004). Values are shown so; stored ones are not rounded.
func round12(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
	if err != nil {
		return v
	}
	return r
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	return nil
}
