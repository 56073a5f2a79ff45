package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"github.com/spf13/cobra"

	// The four functions register themselves with the framework.
	_ "github.com/promptml/promptml"
)

// functionNames are the entry points the functions register.
var functionNames = []string{"OnDatasetUpload", "API", "RunBatch", "Aggregate"}

func newFunctionsCmd() *cobra.Command {
	var target string
	var port int
	cmd := &cobra.Command{
		Use:   "functions --target NAME --port N",
		Short: "Serve one function through the Functions Framework on 127.0.0.1 (used by the local cloud)",
		Long: `Serve one of the functions (OnDatasetUpload, API, RunBatch, Aggregate)
through the Functions Framework, as Cloud Functions does: the function
answers at "/" and reads its configuration from PROMPTML_* variables.
The local cloud starts one of these per function.`,
		Example: "  PROMPTML_PROJECT=p PROMPTML_DATASETS_BUCKET=d PROMPTML_ARTIFACTS_BUCKET=a \\\n    promptml functions --target API --port 8080",
		Hidden:  true,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			known := false
			for _, n := range functionNames {
				known = known || n == target
			}
			if !known {
				return &exitError{2, fmt.Errorf("--target must be one of %v, got %q", functionNames, target)}
			}
			if err := os.Setenv("FUNCTION_TARGET", target); err != nil {
				return err
			}
			return funcframework.StartHostPort("127.0.0.1", strconv.Itoa(port))
		},
	}
	cmd.Flags().StringVar(&target, "target", "", "function to serve (required)")
	cmd.Flags().IntVar(&port, "port", 8080, "port on 127.0.0.1")
	_ = cmd.MarkFlagRequired("target")
	return cmd
}
