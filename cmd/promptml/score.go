package main

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/promptml/promptml/shared/dataset"
	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/llm/vertex"
	"github.com/promptml/promptml/shared/serverenv"
)

// scoreFlags are the flags of `promptml score`.
type scoreFlags struct {
	metric  string
	options []string
	file    string
	pred    string
	ref     string
	list    bool
	models  modelFlags
	predSet bool
	refSet  bool
	fileSet bool
}

// modelFlags say where llm_judge and semantic_similarity find their models.
type modelFlags struct {
	project        string
	location       string
	judgeModel     string
	embeddingModel string
}

// depsFunc builds the Deps a metric needs; tests replace it with fakes.
type depsFunc func(ctx context.Context, metric string, mf modelFlags) (eval.Deps, error)

// newScoreCmd returns `promptml score`.
func newScoreCmd() *cobra.Command {
	return newScoreCmdWith(vertexDeps)
}

// scoreUsage is the usage line of `promptml score`, repeated under a usage
// error.
const scoreUsage = "promptml score --metric NAME [--option key=value ...] (--file preds.csv | --pred TEXT --ref TEXT)"

func newScoreCmdWith(deps depsFunc) *cobra.Command {
	var f scoreFlags
	cmd := &cobra.Command{
		Use:   strings.TrimPrefix(scoreUsage, "promptml "),
		Short: "Score predictions against ground truth with one evaluator metric",
		Long: `Score predictions with one metric of shared/eval (see docs/metrics.md).

With --pred and --ref it prints one number in [0,1] (an explanation, if the
metric gives one, goes to stderr).

With --file it reads a CSV with the columns prediction and ground_truth_output
(and optionally user_input, shown to llm_judge) and prints CSV: one row per
example (row,score,explanation,error), a blank line, then the aggregate as
statistic,value lines: metric, n, errors, mean, pass_rate, threshold, ci_low,
ci_high and corpus (for bleu and chrf).

--option key=value sets one metric option (repeatable). The value is a
string; the metric converts it: numbers ("0.01"), booleans ("true"), lists as
comma-separated values ("a,b") or a JSON array ('["a,b","c"]'), and a JSON
Schema as JSON text.`,
		Example: `  promptml score --metric bleu --pred "The cat sat on the mat." --ref "The cat is on the mat."
  promptml score --metric numeric --option rel_tol=0.01 --file preds.csv
  promptml score --metric normalized_match --option normalizers=case,whitespace --file preds.csv`,
		Args:         usageArgs(cobra.NoArgs),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.predSet, f.refSet, f.fileSet = cmd.Flags().Changed("pred"), cmd.Flags().Changed("ref"), cmd.Flags().Changed("file")
			return runScore(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f, deps)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.metric, "metric", "", "metric name (see --list)")
	fl.StringArrayVar(&f.options, "option", nil, "metric option as key=value (repeatable)")
	fl.StringVar(&f.file, "file", "", "CSV file with columns prediction, ground_truth_output ('-' for stdin)")
	fl.StringVar(&f.pred, "pred", "", "one prediction to score")
	fl.StringVar(&f.ref, "ref", "", "its ground truth")
	fl.BoolVar(&f.list, "list", false, "list the metric names and exit")
	fl.StringVar(&f.models.project, "project", os.Getenv("GOOGLE_CLOUD_PROJECT"), "Google Cloud project for llm_judge and semantic_similarity (default $GOOGLE_CLOUD_PROJECT)")
	fl.StringVar(&f.models.location, "location", "", "Vertex AI location (default global for llm_judge, where the Gemini 3 judges are served, and "+vertex.DefaultLocation+" for semantic_similarity)")
	fl.StringVar(&f.models.judgeModel, "judge-model", serverenv.DefaultOptimizerModel, "judge model of llm_judge (a deployment's judge is its optimizer model)")
	fl.StringVar(&f.models.embeddingModel, "embedding-model", "text-embedding-005", "embedding model of semantic_similarity")
	return cmd
}

func runScore(ctx context.Context, stdout, stderr io.Writer, f scoreFlags, deps depsFunc) error {
	if f.list {
		for _, n := range eval.Names() {
			fmt.Fprintln(stdout, n)
		}
		return nil
	}
	if f.metric == "" {
		return usageError(fmt.Errorf("--metric is required (one of %s)", strings.Join(eval.Names(), ", ")), scoreUsage)
	}
	single := f.predSet || f.refSet
	switch {
	case single && f.fileSet:
		return usageError(errors.New("give either --file or --pred and --ref, not both"), scoreUsage)
	case single && !(f.predSet && f.refSet):
		return usageError(errors.New("--pred and --ref go together"), scoreUsage)
	case !single && !f.fileSet:
		return usageError(errors.New("give --file, or --pred and --ref"), scoreUsage)
	}
	opts, err := parseOptions(f.options)
	if err != nil {
		return usageError(err, scoreUsage)
	}
	spec := []eval.Spec{{Name: f.metric, Options: opts}}
	// Validate before building clients, so a typo fails fast and offline.
	if _, err := eval.Build(spec, eval.Deps{}); err != nil {
		return usageError(fmt.Errorf("score: %w", err), scoreUsage)
	}
	d, err := deps(ctx, f.metric, f.models)
	if err != nil {
		return fmt.Errorf("score: %w", err) // keeps an exitError's code
	}
	m, err := eval.Build(spec, d)
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	if single {
		s, err := m.Score(ctx, f.pred, f.ref)
		if err != nil {
			return fmt.Errorf("score: %w", err)
		}
		fmt.Fprintln(stdout, formatScore(s.Value))
		if s.Explanation != "" {
			fmt.Fprintln(stderr, s.Explanation)
		}
		return nil
	}
	return scoreFile(ctx, stdout, f.file, m)
}

// parseOptions turns key=value flags into Spec.Options (values stay
// strings; the metrics convert them).
func parseOptions(kvs []string) (map[string]any, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	opts := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("--option %q: want key=value", kv)
		}
		if _, dup := opts[k]; dup {
			return nil, fmt.Errorf("--option %s given twice", k)
		}
		opts[k] = v
	}
	return opts, nil
}

// formatScore prints enough digits to compare with sacreBLEU's two decimals
// on its 0–100 scale.
func formatScore(v float64) string {
	return strconv.FormatFloat(v, 'f', 6, 64)
}

// scoreFile scores every row of a predictions CSV and prints the rows and
// the aggregate.
func scoreFile(ctx context.Context, w io.Writer, path string, m eval.Metric) error {
	var r io.Reader
	if path == "-" {
		r = os.Stdin
	} else {
		fh, err := os.Open(path)
		if err != nil {
			return &exitError{exitUsage, fmt.Errorf("score: %w", err)}
		}
		defer fh.Close()
		r = fh
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return &exitError{exitUsage, fmt.Errorf("score: %s: read header: %w", path, err)}
	}
	col := func(name string) int {
		return slices.IndexFunc(header, func(h string) bool {
			return strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), name)
		})
	}
	predCol, refCol, inCol := col("prediction"), col("ground_truth_output"), col("user_input")
	for name, i := range map[string]int{"prediction": predCol, "ground_truth_output": refCol} {
		if i < 0 {
			return &exitError{exitUsage, fmt.Errorf("score: %s: missing column %q (columns: %s)", path, name, strings.Join(header, ", "))}
		}
	}

	// Explanations come from a model and errors quote the data: the
	// cells are neutralized against formula injection.
	out := dataset.NewCSVWriter(w)
	_ = out.Write([]string{"row", "score", "explanation", "error"})
	var outcomes []eval.Outcome
	var preds, refs []string
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("score: %s: %w", path, err)
		}
		get := func(i int) string {
			if i < 0 || i >= len(rec) {
				return ""
			}
			return rec[i]
		}
		pred, ref := get(predCol), get(refCol)
		rctx := ctx
		if inCol >= 0 {
			rctx = eval.WithInput(ctx, get(inCol))
		}
		s, err := m.Score(rctx, pred, ref)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("score: %w", ctx.Err())
			}
			outcomes = append(outcomes, eval.Outcome{Err: err.Error()})
			_ = out.Write([]string{strconv.Itoa(row), "", "", err.Error()})
			continue
		}
		outcomes = append(outcomes, eval.Outcome{Value: s.Value})
		preds, refs = append(preds, pred), append(refs, ref)
		_ = out.Write([]string{strconv.Itoa(row), formatScore(s.Value), s.Explanation, ""})
	}

	sum := eval.SummarizeOutcomes(outcomes, eval.Threshold(m))
	_ = out.Write(nil) // blank line between the rows and the aggregate
	stats := [][]string{
		{"statistic", "value"},
		{"metric", m.Name()},
		{"n", strconv.Itoa(sum.N)},
		{"errors", strconv.Itoa(sum.Errors)},
		{"mean", formatScore(sum.Mean)},
		{"pass_rate", formatScore(sum.PassRate)},
		{"threshold", formatScore(eval.Threshold(m))},
		{"ci_low", formatScore(sum.CILow)},
		{"ci_high", formatScore(sum.CIHigh)},
	}
	// The corpus value covers the scored rows only, like the mean.
	if v, ok, err := eval.Corpus(m, preds, refs); err != nil {
		return fmt.Errorf("score: %w", err)
	} else if ok {
		stats = append(stats, []string{"corpus", formatScore(v)})
	}
	_ = out.WriteAll(stats) // WriteAll flushes
	if err := out.Error(); err != nil {
		return fmt.Errorf("score: write: %w", err)
	}
	return nil
}

// vertexDeps builds the judge or the embedder on Vertex AI, only for the
// metric that needs one, from the --project/--location/--*-model flags and
// Application Default Credentials.
func vertexDeps(ctx context.Context, metric string, mf modelFlags) (eval.Deps, error) {
	if metric != "llm_judge" && metric != "semantic_similarity" {
		return eval.Deps{}, nil
	}
	if mf.project == "" {
		return eval.Deps{}, usageError(fmt.Errorf("%s needs a Vertex AI project: set --project or GOOGLE_CLOUD_PROJECT", metric), scoreUsage)
	}
	if metric == "llm_judge" {
		j, err := vertex.New(ctx, vertex.Options{Project: mf.project, Location: cmp.Or(mf.location, "global"), Model: mf.judgeModel})
		if err != nil {
			return eval.Deps{}, err
		}
		return eval.Deps{Judge: j}, nil
	}
	e, err := vertex.NewEmbedder(ctx, vertex.Options{Project: mf.project, Location: cmp.Or(mf.location, vertex.DefaultLocation), Model: mf.embeddingModel})
	if err != nil {
		return eval.Deps{}, err
	}
	return eval.Deps{Embedder: e}, nil
}
