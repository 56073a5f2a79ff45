package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/promptml/promptml/functions/api/wire"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/promptdiff"
	"github.com/promptml/promptml/shared/store"
)

// apiCommand builds a command that talks to the API: --api, connect, and
// errors explained for the run named by the first argument.
func apiCommand(cmd *cobra.Command, run func(ctx context.Context, out io.Writer, c *apiClient, args []string) error) *cobra.Command {
	var api apiTarget
	apiFlag(cmd, &api)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := connect(cmd.Context(), api)
		if err != nil {
			return err
		}
		what := ""
		if len(args) > 0 {
			what = "run " + args[0]
		}
		return explain(run(cmd.Context(), cmd.OutOrStdout(), c, args), what)
	}
	return cmd
}

const apiExitCodes = `

Exit codes: 0 success; 1 failure; 2 bad usage; 4 unknown run or version;
5 the API is unreachable.`

func newRunsCmd() *cobra.Command {
	var status string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List runs, newest first",
		Long:  "List the runs of the API (newest first) with status, epoch, best val, calls, cost and times." + apiExitCodes,
		Example: `  promptml runs
  promptml runs --status running
  promptml runs --json | jq -r '.[].id'`,
		Args: usageArgs(cobra.NoArgs),
	}
	cmd.Flags().StringVar(&status, "status", "", "only runs with this status: running, succeeded, failed, cancelled, budget_exhausted")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many runs (1-1000)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the runs as JSON")
	return apiCommand(cmd, func(ctx context.Context, out io.Writer, c *apiClient, _ []string) error {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if status != "" {
			q.Set("status", status)
		}
		var res struct {
			Runs []*wire.Run `json:"runs"`
		}
		if err := c.do(ctx, http.MethodGet, "/runs?"+q.Encode(), nil, &res); err != nil {
			return err
		}
		if asJSON {
			return printJSON(out, res.Runs)
		}
		if len(res.Runs) == 0 {
			fmt.Fprintln(out, "No runs. Start one with `promptml run data.csv`.")
			return nil
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "RUN\tSTATUS\tEPOCH\tBEST VAL\tTEST\tCALLS\tCOST\tSTARTED\tFINISHED\tDATASET")
		for _, r := range res.Runs {
			test := notScored
			if r.Test != nil {
				test = fmt.Sprintf("%.3f", r.Test.Best.Mean)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t$%.4f\t%s\t%s\t%s\n", r.ID, r.Status, r.Epoch, score3(r.BestVal, valScored(r)), test,
				r.Usage.Calls, r.Usage.CostUSD, stamp(r.CreatedAt), stamp(r.FinishedAt), path.Base(r.Source.Object))
		}
		return tw.Flush()
	})
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newStatusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status RUN",
		Short: "Show a run: status, scores, usage, running phases and epochs",
		Long:  "Show one run: status and stage, dataset, initial and best val, test scores, usage and cost, the progress of running phases, the epoch table and the error of a failed run." + apiExitCodes,
		Example: `  promptml status 3b7cjz62iufw5q3hfovx676yay
  promptml status 3b7cjz62iufw5q3hfovx676yay --json`,
		Args: usageArgs(cobra.ExactArgs(1)),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the run document as JSON")
	return apiCommand(cmd, func(ctx context.Context, out io.Writer, c *apiClient, args []string) error {
		r, err := c.run(ctx, args[0])
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(out, r)
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "run\t%s\nstatus\t%s (stage %s, epoch %d)\ndataset\t%s\n", r.ID, r.Status, r.Stage, r.Epoch, datasetLine(r))
		if valScored(r) {
			fmt.Fprintf(tw, "val\tinitial %.3f → best %.3f (%s)\n", r.InitialVal, r.BestVal, r.IncumbentID)
		} else {
			fmt.Fprintf(tw, "val\t%s\n", unscoredReason(r))
		}
		if r.Test != nil {
			fmt.Fprintf(tw, "test\tinitial %.3f, best %.3f\n", r.Test.Initial.Mean, r.Test.Best.Mean)
		}
		fmt.Fprintf(tw, "usage\t%d calls, %d input / %d output tokens, %d cache hits, %d errors, $%.4f\n",
			r.Usage.Calls, r.Usage.InputTokens, r.Usage.OutputTokens, r.Usage.CacheHits, r.Usage.Errors, r.Usage.CostUSD)
		models := make([]string, 0, len(r.UsageByModel))
		for m := range r.UsageByModel {
			models = append(models, m)
		}
		sort.Strings(models)
		for _, m := range models {
			u := r.UsageByModel[m]
			fmt.Fprintf(tw, "  %s\t%d calls, %d / %d tokens, $%.4f\n", m, u.Calls, u.InputTokens, u.OutputTokens, u.CostUSD)
		}
		fmt.Fprintf(tw, "started\t%s\nfinished\t%s\n", stamp(r.CreatedAt), stamp(r.FinishedAt))
		if r.Error != nil {
			fmt.Fprintf(tw, "error\t%s\n", r.Error.Message)
		}
		if r.Status == store.StatusBudgetExhausted {
			// No error: the reason is the run's budget_exhausted event.
			events, err := c.events(ctx, r.ID, time.Time{})
			if err != nil {
				return err
			}
			for _, e := range events {
				if e.Kind == string(store.StatusBudgetExhausted) {
					fmt.Fprintf(tw, "stopped\t%s\n", e.Message)
				}
			}
		}
		_ = tw.Flush()
		if !r.Terminal() {
			phases, err := c.phases(ctx, r.ID)
			if err != nil {
				return err
			}
			for _, ph := range phases {
				if ph.State == store.PhasePending {
					fmt.Fprintf(out, "running  %s\n", progressLine(ph))
				}
			}
		}
		s, err := summarize(ctx, c, r)
		if err != nil {
			return err
		}
		if len(s.Epochs) > 0 {
			fmt.Fprintln(out)
			printEpochTable(out, s.Epochs)
		}
		return nil
	})
}

func newCancelCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "cancel RUN",
		Short:   "Cancel a running run (its history is kept)",
		Long:    "Cancel a run: no new work is published, batches in flight are dropped when they start, and everything so far stays readable. Cancelling a run that has ended changes nothing." + apiExitCodes,
		Example: `  promptml cancel 3b7cjz62iufw5q3hfovx676yay`,
		Args:    usageArgs(cobra.ExactArgs(1)),
	}
	return apiCommand(cmd, func(ctx context.Context, out io.Writer, c *apiClient, args []string) error {
		before, err := c.run(ctx, args[0])
		if err != nil {
			return err
		}
		if before.Terminal() {
			fmt.Fprintf(out, "Run %s had already ended (%s); nothing changed.\n", before.ID, before.Status)
			return nil
		}
		var r wire.Run
		if err := c.do(ctx, http.MethodPost, "/runs/"+url.PathEscape(args[0])+":cancel", nil, &r); err != nil {
			return err
		}
		if r.Status == store.StatusCancelled {
			fmt.Fprintf(out, "Run %s cancelled.\n", r.ID)
		} else {
			fmt.Fprintf(out, "Run %s had already ended (%s); nothing changed.\n", r.ID, r.Status)
		}
		return nil
	})
}

func newExportCmd() *cobra.Command {
	var version, outDir string
	cmd := &cobra.Command{
		Use:   "export RUN",
		Short: "Write the best (or a chosen) prompt as system.txt, output.txt and prompt.json",
		Long:  "Write a run's best prompt — or the version --version names — to --out as system.txt, output.txt and prompt.json (ids, parent, epoch, few-shot examples, scores by split), the same files the run exports to its artifacts bucket." + apiExitCodes,
		Example: `  promptml export 3b7cjz62iufw5q3hfovx676yay
  promptml export 3b7cjz62iufw5q3hfovx676yay --version p0123456789ab --out prompts/`,
		Args: usageArgs(cobra.ExactArgs(1)),
	}
	cmd.Flags().StringVar(&version, "version", "", "prompt version id (default: the run's best; see `promptml history RUN`)")
	cmd.Flags().StringVarP(&outDir, "out", "o", "", "directory to write to (default: ./export-RUN)")
	return apiCommand(cmd, func(ctx context.Context, out io.Writer, c *apiClient, args []string) error {
		q := ""
		if version != "" {
			q = "?version=" + url.QueryEscape(version)
		}
		var ex pipeline.ExportedPrompt
		if err := c.do(ctx, http.MethodGet, "/runs/"+url.PathEscape(args[0])+"/export"+q, nil, &ex); err != nil {
			return err
		}
		dir := outDir
		if dir == "" {
			dir = "export-" + args[0]
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return &exitError{exitUsage, fmt.Errorf("--out: %w", err)}
		}
		js, _ := json.MarshalIndent(ex, "", "  ")
		for name, data := range map[string][]byte{"system.txt": []byte(ex.SystemPrompt), "output.txt": []byte(ex.OutputPrompt), "prompt.json": append(js, '\n')} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				return fmt.Errorf("export: %w", err)
			}
		}
		val := "-"
		if s, ok := ex.Scores["val"]; ok {
			val = fmt.Sprintf("%.3f", s.Mean)
		}
		fmt.Fprintf(out, "Wrote %s (version %s, epoch %d, val %s): system.txt, output.txt, prompt.json\n", dir, ex.PromptID, ex.Epoch, val)
		return nil
	})
}

// resolveVersion turns "initial" and "best" into the run's prompt ids.
// diffed is the part of a prompt version promptdiff compares.
func diffed(p *wire.Prompt) *store.Prompt {
	return &store.Prompt{ID: p.ID, System: p.System, Output: p.Output, Examples: p.Examples}
}

func resolveVersion(r *wire.Run, v string) string {
	switch v {
	case "initial":
		return r.InitialPromptID
	case "best":
		return r.IncumbentID
	}
	return v
}

func newDiffCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diff RUN A B",
		Short: "Unified diff of two prompt versions of a run",
		Long:  "Print the unified diff from version A to version B of a run's prompt (system prompt, output prompt, few-shot examples). A and B are prompt ids from `promptml history RUN`, or initial and best." + apiExitCodes,
		Example: `  promptml diff 3b7cjz62iufw5q3hfovx676yay initial best
  promptml diff 3b7cjz62iufw5q3hfovx676yay p0123456789ab p89abcdef0123`,
		Args: usageArgs(cobra.ExactArgs(3)),
	}
	return apiCommand(cmd, func(ctx context.Context, out io.Writer, c *apiClient, args []string) error {
		r, err := c.run(ctx, args[0])
		if err != nil {
			return err
		}
		var ps [2]*wire.Prompt
		for i, v := range args[1:] {
			id := resolveVersion(r, v)
			var p wire.Prompt
			if err := c.do(ctx, http.MethodGet, "/runs/"+url.PathEscape(r.ID)+"/prompts/"+url.PathEscape(id), nil, &p); err != nil {
				if ae, ok := err.(*apiError); ok && ae.Status == http.StatusNotFound {
					return &exitError{exitNotFound, fmt.Errorf("run %s has no prompt version %q\n  List its versions with `promptml history %s`", r.ID, v, r.ID)}
				}
				return err
			}
			ps[i] = &p
		}
		d := promptdiff.Unified(diffed(ps[0]), diffed(ps[1]))
		if d == "" {
			fmt.Fprintf(out, "%s and %s are the same prompt.\n", ps[0].ID, ps[1].ID)
			return nil
		}
		_, err = io.WriteString(out, d)
		return err
	})
}

func newHistoryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "history RUN",
		Short:   "The tree of prompt versions with scores and the gate's decisions",
		Long:    "Print a run's prompt versions as a tree (each candidate under the incumbent it was derived from) with train/val/test scores, status, the optimizer strategy and the gate's decision (delta, p-value, note). The best version is marked with *." + apiExitCodes,
		Example: `  promptml history 3b7cjz62iufw5q3hfovx676yay`,
		Args:    usageArgs(cobra.ExactArgs(1)),
	}
	return apiCommand(cmd, func(ctx context.Context, out io.Writer, c *apiClient, args []string) error {
		r, err := c.run(ctx, args[0])
		if err != nil {
			return err
		}
		prompts, err := c.prompts(ctx, r.ID)
		if err != nil {
			return err
		}
		epochs, err := c.epochs(ctx, r.ID)
		if err != nil {
			return err
		}
		printHistory(out, r, prompts, epochs)
		return nil
	})
}

// printHistory prints the version tree.
func printHistory(out io.Writer, r *wire.Run, prompts []*wire.Prompt, epochs []*wire.Epoch) {
	byID := map[string]*wire.Prompt{}
	children := map[string][]*wire.Prompt{}
	for _, p := range prompts {
		byID[p.ID] = p
	}
	var roots []*wire.Prompt
	for _, p := range prompts {
		if p.Parent == "" || byID[p.Parent] == nil {
			roots = append(roots, p)
		} else {
			children[p.Parent] = append(children[p.Parent], p)
		}
	}
	order := func(ps []*wire.Prompt) {
		sort.SliceStable(ps, func(i, j int) bool {
			if ps[i].Epoch != ps[j].Epoch {
				return ps[i].Epoch < ps[j].Epoch
			}
			return ps[i].Candidate < ps[j].Candidate
		})
	}
	gate := map[string]string{}
	for _, e := range epochs {
		for _, c := range e.Candidates {
			g := "gate: " + string(c.Status)
			if c.PromptID == e.BestCandidate {
				g += fmt.Sprintf(", delta %+.3f", e.Delta)
				if e.GateTest != "" {
					g += ", " + e.GateTest
				}
				if e.PValue != nil {
					if pv := pvalue(*e.PValue); strings.HasPrefix(pv, "<") {
						g += ", p" + pv
					} else {
						g += ", p=" + pv
					}
				}
			}
			if c.Note != "" {
				g += " — " + c.Note
			}
			if _, ok := gate[c.PromptID]; !ok { // the epoch that proposed it
				gate[c.PromptID] = g
			}
		}
	}
	score := func(p *wire.Prompt, split string) string {
		if s, ok := p.Scores[split]; ok && s.N > 0 {
			return fmt.Sprintf("%.3f", s.Mean)
		}
		return "-"
	}
	var walk func(p *wire.Prompt, prefix string, last, root bool)
	walk = func(p *wire.Prompt, prefix string, last, root bool) {
		branch, next := "", prefix
		if !root {
			branch, next = "├─ ", prefix+"│  "
			if last {
				branch, next = "└─ ", prefix+"   "
			}
		}
		mark := ""
		if p.ID == r.IncumbentID {
			mark = " *"
		}
		strategy := p.Strategy
		if strategy == "" {
			strategy = "-"
		}
		fmt.Fprintf(out, "%s%s%s%s  epoch %d  %-9s %-8s train %s  val %s  test %s", prefix, branch, p.ID, mark, p.Epoch, p.Status, strategy,
			score(p, "train"), score(p, "val"), score(p, "test"))
		if g := gate[p.ID]; g != "" {
			fmt.Fprintf(out, "  (%s)", g)
		}
		fmt.Fprintln(out)
		kids := children[p.ID]
		order(kids)
		for i, k := range kids {
			walk(k, next, i == len(kids)-1, false)
		}
	}
	order(roots)
	for _, p := range roots {
		walk(p, "", true, true)
	}
	if len(prompts) == 0 {
		fmt.Fprintln(out, "No prompt version yet.")
		return
	}
	fmt.Fprintf(out, "\n* best version (%s). Compare two: promptml diff %s A B\n", r.IncumbentID, r.ID)
}
