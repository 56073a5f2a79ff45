package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/promptml/promptml/functions/api/wire"
	"github.com/promptml/promptml/shared/store"
)

func newWatchCmd() *cobra.Command {
	var api apiTarget
	var jsonOut string
	cmd := &cobra.Command{
		Use:   "watch RUN",
		Short: "Follow a run: progress per phase, the epoch table as it grows, the event log",
		Long: `Follow a run until it ends: each running phase's progress bar (batches
done/total) with the run's calls and cost so far, each epoch's row as the
gate decides it, and the event log (optimizer reasoning, decisions) as it
streams. Ends with the epoch table and the final prompts.

Ctrl-C stops watching; the run goes on (cancel it with ` + "`promptml cancel RUN`" + `).

Exit codes: 0 the run succeeded; 1 failure; 3 the run failed, was cancelled
or ran out of budget; 4 unknown run; 5 the API is unreachable.`,
		Example: `  promptml watch 3b7cjz62iufw5q3hfovx676yay
  promptml watch 3b7cjz62iufw5q3hfovx676yay --json summary.json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			c, err := connect(ctx, api)
			if err != nil {
				return err
			}
			return watchCommand(ctx, cmd.OutOrStdout(), c, args[0], jsonOut)
		},
	}
	apiFlag(cmd, &api)
	cmd.Flags().StringVar(&jsonOut, "json", "", "also write the final summary as JSON to this file")
	return cmd
}

// watchCommand follows a run and prints its summary; the exit code says
// how it ended.
func watchCommand(ctx context.Context, out io.Writer, api *apiClient, id string, jsonOut string) error {
	sum, err := follow(ctx, out, api, id, 500*time.Millisecond)
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{130, fmt.Errorf("stopped watching; run %s goes on", id)}
		}
		return explain(err, "run "+id)
	}
	printSummary(out, sum)
	if jsonOut != "" {
		if err := writeJSONFile(jsonOut, sum); err != nil {
			return err
		}
	}
	if sum.Status != store.StatusSucceeded {
		return &exitError{exitRunEnded, fmt.Errorf("run %s ended %s", id, sum.Status)}
	}
	return nil
}

// bar draws done/total as a fixed-width text bar.
func bar(done, total, width int) string {
	if total <= 0 {
		return strings.Repeat("░", width)
	}
	n := done * width / total
	return strings.Repeat("█", n) + strings.Repeat("░", width-n)
}

// phaseUsage prints what a phase's done batches used: calls, cache hits
// when there were any, and cost.
func phaseUsage(u store.Usage) string {
	s := fmt.Sprintf("%d calls", u.Calls)
	if u.CacheHits > 0 {
		s += fmt.Sprintf(" (+%d cached)", u.CacheHits)
	}
	return s + fmt.Sprintf(", $%.4f", u.CostUSD)
}

// progressLine is one phase's progress bar: batches done/total and the
// usage of the done batches.
func progressLine(ph *wire.Phase) string {
	return fmt.Sprintf("%-18s %s %d/%d batches · %s", ph.ID, bar(ph.DoneBatches, ph.TotalBatches, 20), ph.DoneBatches, ph.TotalBatches, phaseUsage(ph.Usage))
}

// follow prints a run's events, phase progress and epoch rows as they
// appear, polling every interval, and returns the summary once the run
// has ended.
func follow(ctx context.Context, out io.Writer, api *apiClient, id string, every time.Duration) (*Summary, error) {
	start := time.Now()
	var last time.Time
	seen := map[string]bool{}
	shown := map[string]int{}
	epochsShown := map[int]bool{}
	header := false
	for {
		r, err := api.run(ctx, id)
		if err != nil {
			return nil, err
		}
		after := last
		if !after.IsZero() {
			after = after.Add(-time.Second) // events of several processes commit out of order
		}
		events, err := api.events(ctx, id, after)
		if err != nil {
			return nil, err
		}
		for _, e := range events {
			if seen[e.ID] {
				continue
			}
			seen[e.ID] = true
			fmt.Fprintf(out, "%s  %s\n", e.Time.Local().Format("15:04:05"), e.Message)
			if e.Time.After(last) {
				last = e.Time
			}
		}
		if !r.Terminal() {
			phases, err := api.phases(ctx, id)
			if err != nil {
				return nil, err
			}
			for _, ph := range phases {
				if ph.State != store.PhasePending || shown[ph.ID] == ph.DoneBatches+1 {
					continue
				}
				shown[ph.ID] = ph.DoneBatches + 1
				fmt.Fprintf(out, "          %s\n", progressLine(ph))
			}
		}
		epochs, err := api.epochs(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, e := range epochs {
			if e.Decision == "" || epochsShown[e.N] {
				continue
			}
			epochsShown[e.N] = true
			if !header {
				header = true
				fmt.Fprintln(out, "          epoch  incumbent train  incumbent val  best candidate val  delta    p-value  decision")
			}
			cand, delta := "-", "-"
			if e.BestCandidate != "" {
				cand, delta = fmt.Sprintf("%.3f", e.BestVal), fmt.Sprintf("%+.3f", e.Delta)
			}
			p := "-"
			if e.PValue != nil {
				p = pvalue(*e.PValue)
			}
			fmt.Fprintf(out, "          %-5d  %-15.3f  %-13.3f  %-18s  %-7s  %-7s  %s\n", e.N, e.IncumbentTrain, e.IncumbentVal, cand, delta, p, e.Decision)
		}
		if r.Terminal() {
			s, err := summarize(ctx, api, r)
			if err != nil {
				return nil, err
			}
			s.WallSeconds = time.Since(start).Round(time.Millisecond).Seconds()
			return s, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("gave up waiting for run %s (stage %s, epoch %d): %w", id, r.Stage, r.Epoch, ctx.Err())
		case <-time.After(every):
		}
	}
}
