// Command promptml is the command line of promptml: the local cloud, the
// functions server it runs, scoring, and deployment helpers.
//
// Exit codes: 0 success; 1 the command failed (the message says why);
// 2 bad usage (flags, arguments, an unreadable file or config, a request the
// API refused as invalid); 3 a run it started or waited for ended failed,
// cancelled or out of budget; 4 the API has no such run or prompt version;
// 5 the API cannot be reached; 130 interrupted.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as bad usage (exit 2) and adds the command's usage
// line, so the user sees what a correct call looks like.
func usageError(err error, usage string) error {
	return &exitError{exitUsage, fmt.Errorf("%w\n  Usage: %s (see --help)", err, usage)}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "promptml",
		Short: "Train prompts like models: a serverless prompt-optimization loop on Google Cloud",
		Long: `promptml trains a system prompt and an output prompt on a CSV of
user_input,ground_truth_output rows: a primary LLM answers, an evaluator
scores, an optimizer LLM rewrites the prompts from the failures, and a
validation gate keeps only real improvements.

Start with the local cloud, which needs no account and no network:

  promptml local --data samples/translation-fr.csv

Then keep a local cloud up and drive it like a deployment:

  promptml local --serve            # API and dashboard at http://127.0.0.1:8080
  promptml run data.csv --watch     # start a run (--api URL or PROMPTML_API for a deployment)
  promptml runs · status RUN · watch RUN · history RUN · diff RUN A B · export RUN · cancel RUN

Exit codes: 0 success; 1 failure; 2 bad usage, file or config; 3 the run
ended failed, cancelled or out of budget; 4 unknown run or version; 5 the API
is unreachable; 130 interrupted.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newLocalCmd(), newFunctionsCmd(), newEmulatorsCmd(), newScoreCmd(), newReportURLCmd(),
		newRunCmd(), newRunsCmd(), newStatusCmd(), newWatchCmd(), newCancelCmd(), newExportCmd(), newDiffCmd(), newHistoryCmd(), newSimServerCmd())
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &exitError{exitUsage, fmt.Errorf("%w\n  Usage: %s (see %s --help)", err, cmd.UseLine(), cmd.CommandPath())}
	})
	return root
}

// exitCode is the process exit code for err: 0 for nil, an exitError's
// code, else 1.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFailed
}

func main() {
	err := newRootCmd().Execute()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "promptml:", err)
	os.Exit(exitCode(err))
}
