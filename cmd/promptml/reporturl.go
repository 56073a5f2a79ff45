package main

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/promptml/promptml/shared/analytics"
)

// lookerCreateURL is the Looker Studio Linking API endpoint that creates a
// report (a copy of a template, or a blank one) bound to the data sources
// given in its query string.
const lookerCreateURL = "https://lookerstudio.google.com/reporting/create"

// reportSource is one Looker Studio data source of the report.
type reportSource struct {
	alias string // ds0, ds1, …: the template's data source aliases
	table string // BigQuery table or view
	name  string // data source name shown in Looker Studio
}

// reportSources binds the report to the *_latest views (terraform/bigquery.tf),
// which keep the newest snapshot per key, so charts never count a run, epoch,
// prompt or example twice.
var reportSources = []reportSource{
	{alias: "ds0", table: analytics.RunsTable + "_latest", name: "promptml runs"},
	{alias: "ds1", table: analytics.EpochsTable + "_latest", name: "promptml epochs"},
	{alias: "ds2", table: analytics.PromptVersionsTable + "_latest", name: "promptml prompt versions"},
	{alias: "ds3", table: analytics.ExampleResultsTable + "_latest", name: "promptml example results"},
	{alias: "ds4", table: analytics.ModelUsageTable + "_latest", name: "promptml model usage"},
}

// reportURLFlags are the flags of `promptml report-url`.
type reportURLFlags struct {
	project        string
	dataset        string
	templateReport string
	billingProject string
	reportName     string
}

var (
	// projectIDPattern accepts project ids, also domain-scoped ones
	// (example.com:my-project).
	projectIDPattern = regexp.MustCompile(`^([a-z0-9][a-z0-9.-]*:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	datasetIDPattern = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	// reportIDPattern is the id in a report URL, .../reporting/<id>/page/...
	reportIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

// newReportURLCmd returns `promptml report-url`.
func newReportURLCmd() *cobra.Command {
	var f reportURLFlags
	cmd := &cobra.Command{
		Use:   "report-url --project P --dataset D [--template-report ID]",
		Short: "Print a Looker Studio link that opens a report bound to the analytics tables",
		Long: `Print a Looker Studio Linking API URL. Opening it creates a report whose
data sources are the BigQuery views of the analytics dataset that terraform/
deploys:

  ds0  runs_latest              score per run, cost, status
  ds1  epochs_latest            score per epoch, gate decisions
  ds2  prompt_versions_latest   accepted versions and their prompts
  ds3  example_results_latest   per-example answers and scores
  ds4  model_usage_latest       calls, tokens (thinking and cached input too)
                                and cost by model, per phase and epoch

With --template-report the report is a copy of that report (its data sources
must use the aliases ds0..ds4); without it, a blank report with the five data
sources attached. Click "Edit and share" to save it. See docs/looker-studio.md.`,
		Example: `  promptml report-url --project my-project --dataset promptml
  promptml report-url --project my-project --dataset promptml --template-report 1a2b3c4d-0000-4000-8000-123456789abc`,
		Args:         usageArgs(cobra.NoArgs),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Checked here rather than with MarkFlagRequired: cobra's own
			// message exits 1 and shows no usage line.
			var missing []string
			for _, name := range []string{"project", "dataset"} {
				if !cmd.Flags().Changed(name) {
					missing = append(missing, strconv.Quote(name))
				}
			}
			if len(missing) > 0 {
				return usageError(fmt.Errorf("required flag(s) %s not set", strings.Join(missing, ", ")), cmd.UseLine())
			}
			u, err := reportURL(f)
			if err != nil {
				return usageError(err, cmd.UseLine())
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), u)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.project, "project", "", "Google Cloud project of the BigQuery dataset (required)")
	fl.StringVar(&f.dataset, "dataset", "", "BigQuery dataset of the analytics tables, e.g. promptml (required)")
	fl.StringVar(&f.templateReport, "template-report", "", "id of a Looker Studio report to copy (default: a blank report)")
	fl.StringVar(&f.billingProject, "billing-project", "", "project billed for the report's queries (default: --project)")
	fl.StringVar(&f.reportName, "report-name", "", `name of the new report (default "promptml - <dataset>")`)
	return cmd
}

// reportURL builds the Linking API URL. Parameters come in a fixed order
// (report, then each data source) so the link reads well and is stable.
func reportURL(f reportURLFlags) (string, error) {
	if !projectIDPattern.MatchString(f.project) {
		return "", fmt.Errorf("--project %q is not a Google Cloud project id", f.project)
	}
	if !datasetIDPattern.MatchString(f.dataset) || len(f.dataset) > 1024 {
		return "", fmt.Errorf("--dataset %q is not a BigQuery dataset id (letters, digits, underscores)", f.dataset)
	}
	if f.templateReport != "" && !reportIDPattern.MatchString(f.templateReport) {
		return "", errors.New("--template-report wants the report id (the part after /reporting/ in the report's URL), not a URL")
	}
	billing := f.billingProject
	if billing == "" {
		billing = f.project
	}
	if !projectIDPattern.MatchString(billing) {
		return "", fmt.Errorf("--billing-project %q is not a Google Cloud project id", billing)
	}
	name := f.reportName
	if name == "" {
		name = "promptml - " + f.dataset
	}

	var q []string
	add := func(k, v string) { q = append(q, escape(k)+"="+escape(v)) }
	if f.templateReport != "" {
		add("c.reportId", f.templateReport)
	}
	add("r.reportName", name)
	for _, s := range reportSources {
		p := "ds." + s.alias + "."
		add(p+"connector", "bigQuery")
		add(p+"type", "TABLE") // a view is read as a table
		add(p+"projectId", f.project)
		add(p+"datasetId", f.dataset)
		add(p+"tableId", s.table)
		add(p+"billingProjectId", billing)
		add(p+"datasourceName", s.name)
	}
	return lookerCreateURL + "?" + strings.Join(q, "&"), nil
}

// escape percent-encodes a query component, with %20 for spaces: Looker
// Studio's own examples use %20, and "+" would be ambiguous in a report name.
func escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
