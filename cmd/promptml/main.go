// Command promptml is the command line of promptml: the local cloud, the
// functions server it runs, scoring, and deployment helpers.
//
// Exit codes: 0 success; 1 the command failed (the message says why);
// 2 bad usage; 3 a run it waited for ended failed or cancelled.
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

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "promptml",
		Short: "Train prompts like models: a serverless prompt-optimization loop on Google Cloud",
		Long: `promptml trains a system prompt and an output prompt on a CSV of
user_input,ground_truth_output rows: a primary LLM answers, an evaluator
scores, an optimizer LLM rewrites the prompts from the failures, and a
validation gate keeps only real improvements.

Start with the local cloud, which needs no account and no network:

  promptml local --data samples/translation-fr.csv`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newLocalCmd(), newFunctionsCmd(), newEmulatorsCmd(), newScoreCmd(), newReportURLCmd())
	return root
}

func main() {
	err := newRootCmd().Execute()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "promptml:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	os.Exit(1)
}
