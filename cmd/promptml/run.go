package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/promptml/promptml/functions/api/wire"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/store"
)

// maxUploadBytes mirrors the API's upload limit (functions/api.MaxUploadBytes),
// checked before sending so a big file fails fast.
const maxUploadBytes = 32 << 20

type runOptions struct {
	api           apiTarget
	cfg           configFlags
	jsonOut       string
	watch, dryRun bool
}

func newRunCmd() *cobra.Command {
	o := runOptions{}
	cmd := &cobra.Command{
		Use:   "run DATASET",
		Short: "Start a training run from a local CSV or a gs:// object",
		Long: `Start a training run on the API (the local cloud, or a deployment).

DATASET is a local CSV file (sent to the API, which stores it in the datasets
bucket with the config as its sidecar) or gs://BUCKET/OBJECT.csv already in
the datasets bucket. The run config is --config FILE (YAML or JSON, see
docs/config.md) with --set PATH=VALUE and --epochs on top; values of --set
are YAML (numbers, booleans, lists).

Prints the run id; --watch then follows the run like ` + "`promptml watch`" + `.
--dry-run asks the API for an estimate (calls, tokens, cost) of the dataset
without starting anything (a local CSV is sent but not stored).

Exit codes: 0 started (or, with --watch, succeeded); 1 failure; 2 bad usage,
file or config; 3 the run failed, was cancelled or ran out of budget;
5 the API is unreachable.`,
		Example: `  promptml local --serve &                               # the local cloud, API at http://127.0.0.1:8080
  promptml run samples/translation-fr.csv --config samples/translation-fr.yaml --watch
  promptml run data.csv --set epochs=3 --set gate.min_delta=0.02
  promptml run gs://my-datasets/support.csv --api https://us-central1-my-project.cloudfunctions.net/API
  promptml run gs://my-datasets/support.csv --dry-run`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), cmd.OutOrStdout(), args[0], o)
		},
	}
	f := cmd.Flags()
	apiFlag(cmd, &o.api)
	f.StringVarP(&o.cfg.file, "config", "c", "", "run config file, YAML or JSON (docs/config.md)")
	o.cfg.overrideFlags(f)
	f.BoolVarP(&o.watch, "watch", "w", false, "follow the run until it ends")
	f.BoolVar(&o.dryRun, "dry-run", false, "estimate calls, tokens and cost without starting")
	f.StringVar(&o.jsonOut, "json", "", "with --watch, also write the final summary as JSON to this file")
	return cmd
}

// startReply is the reply of POST /runs (started, or a dry run).
type startReply struct {
	Run      *wire.Run          `json:"run"`
	DryRun   bool               `json:"dry_run"`
	Estimate *pipeline.Estimate `json:"estimate"`
}

func runRun(ctx context.Context, out io.Writer, dataset string, o runOptions) error {
	cfg, err := buildConfig(o.cfg)
	if err != nil {
		return err
	}
	remote := strings.HasPrefix(dataset, "gs://")
	var body []byte
	var contentType string
	if remote {
		req := map[string]any{"dataset": dataset}
		if cfg != nil {
			req["config"] = cfg
		}
		body, _ = json.Marshal(req)
		contentType = "application/json"
	} else {
		if body, contentType, err = uploadForm(dataset, cfg); err != nil {
			return err
		}
	}
	api, err := connect(ctx, o.api)
	if err != nil {
		return err
	}
	path := "/runs"
	if o.dryRun {
		path += "?dry_run=true"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	var rep startReply
	err = api.send(req, http.MethodPost, path, &rep)
	var ae *apiError
	if asAPIError(err, &ae) && ae.Status == http.StatusUnprocessableEntity {
		// The run exists and failed at intake: show why.
		var failed startReply
		if json.Unmarshal([]byte(ae.Msg), &failed) == nil && failed.Run != nil {
			return intakeFailed(failed.Run)
		}
	}
	if err != nil {
		return explain(err, "")
	}
	if o.dryRun {
		if !rep.DryRun {
			id := ""
			if rep.Run != nil {
				id = rep.Run.ID
			}
			return fmt.Errorf("this API does not support dry runs and started run %s instead; cancel it with `promptml cancel %s`", id, id)
		}
		printEstimate(out, rep.Estimate)
		return nil
	}
	if rep.Run == nil {
		return fmt.Errorf("POST %s: the reply names no run", path)
	}
	if rep.Run.Status == store.StatusFailed {
		return intakeFailed(rep.Run)
	}
	fmt.Fprintf(out, "Run %s started (%s).\n", rep.Run.ID, rep.Run.Dataset.URI)
	if !o.watch {
		fmt.Fprintf(out, "Follow it:  promptml watch %s%s\nDashboard:  %s/ui/runs/%s\n", rep.Run.ID, apiSuffix(o.api), api.base, rep.Run.ID)
		return nil
	}
	return watchCommand(ctx, out, api, rep.Run.ID, o.jsonOut)
}

// apiSuffix repeats --api and --impersonate-service-account in suggested
// commands.
func apiSuffix(t apiTarget) string {
	s := ""
	if t.url != "" {
		s += " --api " + t.url
	}
	if t.impersonate != "" {
		s += " --impersonate-service-account " + t.impersonate
	}
	return s
}

func asAPIError(err error, target **apiError) bool {
	ae, ok := err.(*apiError)
	if ok {
		*target = ae
	}
	return ok
}

// intakeFailed reports a run that failed before training.
func intakeFailed(r *wire.Run) error {
	msg := "unknown error"
	if r.Error != nil {
		msg = r.Error.Message
		if r.Error.Row > 0 {
			msg += fmt.Sprintf(" (row %d", r.Error.Row)
			if r.Error.Column != "" {
				msg += ", column " + r.Error.Column
			}
			msg += ")"
		}
		if r.Error.Path != "" {
			msg += " (config path " + r.Error.Path + ")"
		}
	}
	return &exitError{exitRunEnded, fmt.Errorf("run %s failed at intake: %s\n  Fix the CSV or the config and run again (docs/dataset.md, docs/config.md)", r.ID, msg)}
}

// uploadForm builds the multipart body of a local CSV and its config.
func uploadForm(path string, cfg map[string]any) ([]byte, string, error) {
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return nil, "", &exitError{exitUsage, fmt.Errorf("dataset %s: %w\n  Pass a CSV file with user_input,ground_truth_output columns, or gs://BUCKET/OBJECT.csv", path, err)}
	case st.IsDir():
		return nil, "", &exitError{exitUsage, fmt.Errorf("dataset %s is a directory; pass a CSV file", path)}
	case st.Size() == 0:
		return nil, "", &exitError{exitUsage, fmt.Errorf("dataset %s is empty; it needs a header row user_input,ground_truth_output and at least a few rows", path)}
	case st.Size() > maxUploadBytes:
		return nil, "", &exitError{exitUsage, fmt.Errorf("dataset %s is %d MiB, over the %d MiB upload limit\n  Copy it to the datasets bucket and run `promptml run gs://BUCKET/%s`", path, st.Size()>>20, maxUploadBytes>>20, filepath.Base(path))}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", &exitError{exitUsage, fmt.Errorf("dataset %s: %w", path, err)}
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("csv", filepath.Base(path))
	if err != nil {
		return nil, "", err
	}
	_, _ = fw.Write(data)
	if cfg != nil {
		js, err := json.Marshal(cfg)
		if err != nil {
			return nil, "", err
		}
		if err := mw.WriteField("config", string(js)); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// printEstimate prints a dry run's estimate.
func printEstimate(out io.Writer, e *pipeline.Estimate) {
	if e == nil {
		fmt.Fprintln(out, "Dry run: nothing was started; the API sent no estimate.")
		return
	}
	fmt.Fprintln(out, "Dry run: nothing was started. Estimate:")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  LLM calls\t%d\n  input tokens\t%d\n  output tokens\t%d\n  cost\t$%.4f\n", e.Calls, e.InputTokens, e.OutputTokens, e.CostUSD)
	_ = tw.Flush()
	if len(e.Phases) == 0 {
		return
	}
	fmt.Fprintln(out, "\nBy phase (every epoch run to the end, every candidate accepted: an upper bound):")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  phase\tcalls\tinput tokens\toutput tokens\tcost")
	for _, p := range e.Phases {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t$%.4f\n", p.Name, p.Calls, p.InputTokens, p.OutputTokens, p.CostUSD)
	}
	_ = tw.Flush()
}
