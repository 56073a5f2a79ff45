package pipeline_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/pipeline/pipelinetest"
)

// TestFormattedTruthsWarnAtIntake: a date-extraction dataset scored by
// normalized_match, which strips punctuation, gets a warning event at
// intake; the same data under exact_match does not, and the run goes on
// either way (issue 17 item 14).
func TestFormattedTruthsWarnAtIntake(t *testing.T) {
	var b strings.Builder
	b.WriteString("user_input,ground_truth_output\n")
	for i := range 40 {
		fmt.Fprintf(&b, "\"The meeting is on day %d of month %d, 2017.\",2017-%02d-%02d\n", i%28+1, i%12+1, i%12+1, i%28+1)
	}
	csv := b.String()
	tests := []struct {
		name   string
		config string
		warned bool
	}{
		{"normalized_match", "metrics:\n  - name: normalized_match\n", true},
		{"exact_match", "metrics:\n  - name: exact_match\n", false},
		{"normalized_match keeping punctuation", "metrics:\n  - name: normalized_match\n    options: {normalizers: [case, whitespace]}\n", false},
	}
	e := pipelinetest.New(t, csv)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := e.P.StartFromCSV(t.Context(), pipeline.UploadRequest{Name: "dates.csv", CSV: []byte(csv), Config: []byte(tc.config)})
			if err != nil {
				t.Fatal(err)
			}
			if r.Error != nil {
				t.Fatalf("run failed at intake: %+v", r.Error)
			}
			events, err := e.Store.ListEvents(t.Context(), r.ID, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			var warning string
			for _, ev := range events {
				if ev.Kind == "warning" {
					warning = ev.Message
				}
			}
			if tc.warned {
				for _, s := range []string{"ground truths sampled look like formatted values", "dates", "normalized_match removes punctuation", "exact_match"} {
					if !strings.Contains(warning, s) {
						t.Errorf("warning %q does not say %q (events: %d)", warning, s, len(events))
					}
				}
			} else if warning != "" {
				t.Errorf("unexpected warning: %s", warning)
			}
		})
	}
}
