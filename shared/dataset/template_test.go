package dataset

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// templates builds Options.Templates from field/text pairs.
func templates(pairs ...string) []Template {
	var ts []Template
	for i := 0; i+1 < len(pairs); i += 2 {
		ts = append(ts, Template{Field: pairs[i], Text: pairs[i+1]})
	}
	return ts
}

// TestTemplateIntakeErrors: a template that names a column the file lacks,
// a reserved column, or a used column with an empty cell fails at intake,
// with the exact message.
func TestTemplateIntakeErrors(t *testing.T) {
	tests := []struct {
		name      string
		csv       string
		templates []Template
		want      Error
	}{
		{
			name:      "template names a missing column",
			csv:       "text,ground_truth_output\nhi,salut\n",
			templates: templates("prompt.system", "You translate.", "prompt.user", "Translate: {{text}}", "prompt.output", "Use a {{missing}} register."),
			want:      Error{Row: 1, Column: "missing", Reason: `missing required column: prompt.output uses {{missing}}; the header is "text", "ground_truth_output"`},
		},
		{
			name:      "the default user turn without a user_input column",
			csv:       "question,ground_truth_output\nhi,there\n",
			templates: templates("prompt.user", "{{user_input}}"),
			want:      Error{Row: 1, Column: "user_input", Reason: `missing required column: prompt.user uses {{user_input}}; the header is "question", "ground_truth_output"`},
		},
		{
			name:      "names differ in case",
			csv:       "Question,ground_truth_output\nhi,there\n",
			templates: templates("prompt.user", "Q: {{question}}"),
			want:      Error{Row: 1, Column: "question", Reason: `missing required column: prompt.user uses {{question}}; the header is "Question", "ground_truth_output" (names are case-sensitive in templates: write {{Question}})`},
		},
		{
			name:      "the expected answer is not a variable",
			csv:       "user_input,ground_truth_output\nhi,there\n",
			templates: templates("prompt.user", "{{user_input}}", "prompt.system", "The answer is {{ground_truth_output}}."),
			want:      Error{Row: 1, Column: "ground_truth_output", Reason: "prompt.system uses {{ground_truth_output}}, a reserved column: id, split and ground_truth_output are not variables (the expected answer is never shown to the model)"},
		},
		{
			name:      "id is not a variable",
			csv:       "id,user_input,ground_truth_output\n1,hi,there\n",
			templates: templates("prompt.user", "{{id}}: {{user_input}}"),
			want:      Error{Row: 1, Column: "id", Reason: "prompt.user uses {{id}}, a reserved column: id, split and ground_truth_output are not variables (the expected answer is never shown to the model)"},
		},
		{
			name:      "ground truth still required",
			csv:       "text,answer\nhi,there\n",
			templates: templates("prompt.user", "{{text}}"),
			want:      Error{Row: 1, Column: "ground_truth_output", Reason: `missing required column; the header is "text", "answer"`},
		},
		{
			name:      "empty cell in a used column",
			csv:       "context,question,ground_truth_output\nThe sky is blue.,What colour?,blue\n ,Why?,because\n",
			templates: templates("prompt.user", "{{context}}\n\nQ: {{question}}"),
			want:      Error{Row: 3, Column: "context", Reason: "empty value"},
		},
		{
			name:      "empty user_input when used",
			csv:       "user_input,notes,ground_truth_output\n,n,x\n",
			templates: templates("prompt.user", "{{user_input}} ({{notes}})"),
			want:      Error{Row: 2, Column: "user_input", Reason: "empty value"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := allTrain
			opts.Templates = tt.templates
			_, err := Validate(context.Background(), strings.NewReader(tt.csv), opts)
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("Validate() = %v, want %v", err, tt.want)
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if _, err := Ingest(context.Background(), stringSource(tt.csv), opts, &memWriter{}); err == nil || err.Error() != got.Error() {
				t.Errorf("Ingest() error = %v, want %v", err, got)
			}
		})
	}
}

// TestTemplateVariables: every non-reserved column is stored with its row,
// user_input is needed only when a template uses it, unused columns may be
// empty and are listed in the manifest, and a cell holding a placeholder is
// stored as written.
func TestTemplateVariables(t *testing.T) {
	tests := []struct {
		name      string
		csv       string
		templates []Template
		want      []Example
		variables []string
		unused    []string
	}{
		{
			name:      "no user_input column",
			csv:       "text,ground_truth_output\nGood morning,Bonjour\n",
			templates: templates("prompt.user", "Translate to French: {{text}}"),
			want:      []Example{{ID: "1", Row: 2, GroundTruth: "Bonjour", Vars: map[string]string{"text": "Good morning"}}},
			variables: []string{"text"},
		},
		{
			name:      "context and question, notes unused and empty",
			csv:       "id,context,question,notes,ground_truth_output\nq1,The sky is blue.,What colour?,,blue\n",
			templates: templates("prompt.system", "Answer from {{context}}.", "prompt.user", "{{question}}"),
			want: []Example{{ID: "q1", Row: 2, GroundTruth: "blue",
				Vars: map[string]string{"context": "The sky is blue.", "question": "What colour?", "notes": ""}}},
			variables: []string{"context", "question", "notes"},
			unused:    []string{"notes"},
		},
		{
			name:      "user_input unused",
			csv:       "user_input,text,ground_truth_output\n,hello,salut\n",
			templates: templates("prompt.user", "{{text}}"),
			want:      []Example{{ID: "1", Row: 2, GroundTruth: "salut", Vars: map[string]string{"text": "hello"}}},
			variables: []string{"user_input", "text"},
			unused:    []string{"user_input"},
		},
		{
			name:      "a cell holding placeholders is data",
			csv:       "user_input,lang,ground_truth_output\n{{lang}} {{DATA}} \\{{x}},fr,y\n",
			templates: templates("prompt.user", "{{user_input}}", "prompt.output", "In {{lang}}."),
			want:      []Example{{ID: "1", Row: 2, UserInput: `{{lang}} {{DATA}} \{{x}}`, GroundTruth: "y", Vars: map[string]string{"lang": "fr"}}},
			variables: []string{"user_input", "lang"},
		},
		{
			name:      "a column whose name cannot be a placeholder is kept but not a variable",
			csv:       "user_input,ticket subject,ground_truth_output\nhi,Refund,y\n",
			want:      []Example{{ID: "1", Row: 2, UserInput: "hi", GroundTruth: "y", Vars: map[string]string{"ticket subject": "Refund"}}},
			variables: []string{"user_input"},
			unused:    []string{"ticket subject"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := allTrain
			opts.Templates = tt.templates
			w := &memWriter{}
			m, err := Ingest(context.Background(), stringSource(tt.csv), opts, w)
			if err != nil {
				t.Fatalf("Ingest() error: %v", err)
			}
			if diff := cmp.Diff(map[string][]Example{Train: tt.want}, w.splitExamples(t, opts.BatchSize)); diff != "" {
				t.Errorf("examples (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.variables, m.Variables); diff != "" {
				t.Errorf("Variables (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.unused, m.UnusedColumns); diff != "" {
				t.Errorf("UnusedColumns (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExampleVariables(t *testing.T) {
	ex := Example{UserInput: "u", Vars: map[string]string{"text": "t"}}
	got := ex.Variables()
	if diff := cmp.Diff(map[string]string{"user_input": "u", "text": "t"}, got); diff != "" {
		t.Errorf("Variables (-want +got):\n%s", diff)
	}
	got["text"] = "changed"
	if ex.Vars["text"] != "t" {
		t.Error("changing Variables() changed the example")
	}
}
