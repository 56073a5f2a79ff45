package main

import (
	"bytes"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// runReportURL executes the command and returns its stdout.
func runReportURL(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newReportURLCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestReportURL(t *testing.T) {
	sources := func(project, dataset, billing string) url.Values {
		v := url.Values{}
		for alias, table := range map[string]string{
			"ds0": "runs_latest", "ds1": "epochs_latest",
			"ds2": "prompt_versions_latest", "ds3": "example_results_latest",
			"ds4": "model_usage_latest", // issue 16: was missing
		} {
			p := "ds." + alias + "."
			v.Set(p+"connector", "bigQuery")
			v.Set(p+"type", "TABLE")
			v.Set(p+"projectId", project)
			v.Set(p+"datasetId", dataset)
			v.Set(p+"tableId", table)
			v.Set(p+"billingProjectId", billing)
		}
		v.Set("ds.ds0.datasourceName", "promptml runs")
		v.Set("ds.ds1.datasourceName", "promptml epochs")
		v.Set("ds.ds2.datasourceName", "promptml prompt versions")
		v.Set("ds.ds3.datasourceName", "promptml example results")
		v.Set("ds.ds4.datasourceName", "promptml model usage")
		return v
	}
	with := func(v url.Values, kv ...string) url.Values {
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name string
		args []string
		want url.Values
	}{
		{
			name: "blank report bound to the views",
			args: []string{"--project", "my-project", "--dataset", "promptml"},
			want: with(sources("my-project", "promptml", "my-project"), "r.reportName", "promptml - promptml"),
		},
		{
			name: "copy of a template, other billing project",
			args: []string{"--project", "my-project", "--dataset", "analytics_1",
				"--template-report", "1a2b3c4d-0000-4000-8000-123456789abc", "--billing-project", "bi-billing"},
			want: with(sources("my-project", "analytics_1", "bi-billing"),
				"c.reportId", "1a2b3c4d-0000-4000-8000-123456789abc",
				"r.reportName", "promptml - analytics_1"),
		},
		{
			name: "report name is encoded",
			args: []string{"--project", "example.com:my-project", "--dataset", "promptml",
				"--report-name", "Q&A prompts #3 + 50%"},
			want: with(sources("example.com:my-project", "promptml", "example.com:my-project"),
				"r.reportName", "Q&A prompts #3 + 50%"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runReportURL(t, tt.args...)
			if err != nil {
				t.Fatalf("report-url %v: %v", tt.args, err)
			}
			if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
				t.Errorf("want exactly one line, got %q", out)
			}
			u, err := url.Parse(strings.TrimSpace(out))
			if err != nil {
				t.Fatalf("not a URL: %v", err)
			}
			if u.Scheme != "https" || u.Host != "lookerstudio.google.com" || u.Path != "/reporting/create" {
				t.Errorf("URL %s: want https://lookerstudio.google.com/reporting/create", u)
			}
			if strings.Contains(u.RawQuery, "+") || strings.Contains(u.RawQuery, " ") {
				t.Errorf("query %q: spaces must be %%20", u.RawQuery)
			}
			got, err := url.ParseQuery(u.RawQuery)
			if err != nil {
				t.Fatalf("query: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("query parameters (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReportURLErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no project", []string{"--dataset", "promptml"}, `"project" not set`},
		{"no dataset", []string{"--project", "my-project"}, `"dataset" not set`},
		{"bad project", []string{"--project", "My_Project", "--dataset", "d"}, "not a Google Cloud project id"},
		{"bad dataset", []string{"--project", "my-project", "--dataset", "my-dataset"}, "not a BigQuery dataset id"},
		{"template given as URL", []string{"--project", "my-project", "--dataset", "d",
			"--template-report", "https://lookerstudio.google.com/reporting/abc"}, "not a URL"},
		{"bad billing project", []string{"--project", "my-project", "--dataset", "d", "--billing-project", "x"}, "--billing-project"},
		{"positional argument", []string{"--project", "my-project", "--dataset", "d", "extra"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runReportURL(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			// Issue 17 item 7: every one of these is bad usage, exit 2,
			// with the usage line (a missing flag used to exit 1 without it).
			if code := exitCode(err); code != exitUsage {
				t.Errorf("exit code %d, want %d (%v)", code, exitUsage, err)
			}
			if !strings.Contains(err.Error(), "Usage:") && !strings.Contains(err.Error(), "--help") {
				t.Errorf("no usage hint: %v", err)
			}
			if out != "" {
				t.Errorf("printed %q on error", out)
			}
		})
	}
}
