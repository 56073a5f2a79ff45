package intent

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTable checks the habit table's shape: indexed by habit, unique ids
// that parse back, rates that are shares, wrappers that hold the answer,
// the core four the primary always applies.
func TestTable(t *testing.T) {
	seen := map[string]bool{}
	var core []string
	for i, s := range Table {
		if s.Habit != Habit(i) {
			t.Errorf("Table[%d].Habit = %d", i, s.Habit)
		}
		if seen[s.Name] {
			t.Errorf("habit id %q twice", s.Name)
		}
		seen[s.Name] = true
		if h, ok := ParseHabit(s.Name); !ok || h != s.Habit {
			t.Errorf("ParseHabit(%q) = %v, %v", s.Name, h, ok)
		}
		if s.Rate <= 0 || s.Rate > 1 {
			t.Errorf("%s: rate %v outside (0, 1]", s.Name, s.Rate)
		}
		if s.Place == Around {
			for _, sf := range s.Surfaces {
				if !strings.Contains(sf, "%s") {
					t.Errorf("%s wraps the answer but surface %q has no %%s", s.Name, sf)
				}
			}
		}
		if s.Core {
			core = append(core, s.Name)
		}
	}
	if diff := cmp.Diff([]string{"preamble", "quotes", "explanation", "capitalization"}, core); diff != "" {
		t.Errorf("core habits (-want +got):\n%s", diff)
	}
	if len(Order) != int(numHabits) || Of(Order...) != Of(All()...) {
		t.Errorf("Order %v does not list every habit once", Order)
	}
}

// TestReadForbidsEachSurface: quoting any text a habit writes, in a
// prohibition, removes that habit and no other. This ties the table's
// surfaces to the reader's markers: a habit whose own wording a prompt
// cannot forbid by quoting it would be one the optimizer cannot remove by
// quoting what it sees.
func TestReadForbidsEachSurface(t *testing.T) {
	for _, s := range Table {
		for _, sf := range s.Surfaces {
			if sf == "%s." || sf == `"%s"` {
				continue // a quote mark or a period alone is tested below
			}
			shown := strings.TrimSpace(strings.ReplaceAll(sf, "%s", ""))
			if s.Habit == CodeFence {
				shown = "```"
			}
			prompt := fmt.Sprintf("Do not write '%s'.", shown)
			if s.Habit == AnswerLabel {
				prompt = fmt.Sprintf("Do not write %q before the answer.", shown)
			}
			t.Run(s.Name+"/"+shown, func(t *testing.T) {
				if diff := cmp.Diff(names(Of(s.Habit)), names(Read(prompt))); diff != "" {
					t.Errorf("Read(%q) (-want +got):\n%s", prompt, diff)
				}
			})
		}
	}
	for _, tc := range []struct {
		prompt string
		want   Habit
	}{
		{`Do not add a '"' on either side.`, Quotes},
		{"Never put a '.' at the end.", TrailingPeriod},
	} {
		if diff := cmp.Diff(names(Of(tc.want)), names(Read(tc.prompt))); diff != "" {
			t.Errorf("Read(%q) (-want +got):\n%s", tc.prompt, diff)
		}
	}
}

// TestAppliesTo checks on which references each habit can appear.
func TestAppliesTo(t *testing.T) {
	labels := []string{"positive", "negative", "neutral"}
	tests := []struct {
		name   string
		habit  Habit
		truth  string
		labels []string
		want   bool
	}{
		{"period on a phrase", TrailingPeriod, "le chat noir", nil, true},
		{"no period on a sentence that has one", TrailingPeriod, "Il pleut.", nil, false},
		{"no period on a question", TrailingPeriod, "Qui est là ?", nil, false},
		{"no period on JSON", TrailingPeriod, `{"a": 1}`, nil, false},
		{"fence on a JSON object", CodeFence, `{"name": "Ada"}`, nil, true},
		{"fence on a JSON array", CodeFence, `[1, 2]`, nil, true},
		{"no fence on text", CodeFence, "Bonjour", nil, false},
		{"no fence on broken JSON", CodeFence, `{"name": }`, nil, false},
		{"label form on a label", LabelForm, "positive", labels, true},
		{"no label form without a label set", LabelForm, "positive", nil, false},
		{"no label form off the set", LabelForm, "happy", labels, false},
		{"no label form on a phrase", LabelForm, "very positive", append(labels, "very positive"), false},
		{"case needs letters", Capitalization, "42", nil, false},
		{"case on words", Capitalization, "bonjour", nil, true},
		{"bold anywhere", Bold, "42", nil, true},
		{"sign-off anywhere", Signoff, "", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Table[tc.habit].AppliesTo(tc.truth, tc.labels); got != tc.want {
				t.Errorf("%s.AppliesTo(%q, %v) = %v, want %v", tc.habit, tc.truth, tc.labels, got, tc.want)
			}
		})
	}
}

// TestApply checks what each habit writes, and that a label form always
// changes the label.
func TestApply(t *testing.T) {
	tests := []struct {
		name    string
		habit   Habit
		text    string
		variant int
		want    string
	}{
		{"sign-off", Signoff, "Bonjour", 0, "Bonjour Hope this helps!"},
		{"sign-off variant", Signoff, "Bonjour", 1, "Bonjour Let me know if you need anything else."},
		{"bold", Bold, "positive", 0, "**positive**"},
		{"label", AnswerLabel, "Paris", 0, "Answer: Paris"},
		{"label variant wraps around", AnswerLabel, "Paris", 4, "Result: Paris"},
		{"period", TrailingPeriod, "le chat", 0, "le chat."},
		{"fence", CodeFence, `{"a": 1}`, 0, "```json\n{\"a\": 1}\n```"},
		{"plain fence", CodeFence, `[1]`, 1, "```\n[1]\n```"},
		{"sentiment synonym", LabelForm, "positive", 1, "good"},
		{"sentiment casing", LabelForm, "negative", 0, "Negative"},
		{"capitalized truth gets a synonym", LabelForm, "Positive", 0, "good"},
		{"other label casing", LabelForm, "sports", 0, "Sports"},
		{"other label upper", LabelForm, "sports", 1, "SPORTS"},
		{"negative variant", LabelForm, "sports", -1, "SPORTS"},
		{"capitalized label lowered", LabelForm, "Sports", 1, "sports"},
		{"quotes", Quotes, "Bonjour", 0, `"Bonjour"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Table[tc.habit].Apply(tc.text, tc.variant); got != tc.want {
				t.Errorf("%s.Apply(%q, %d) = %q, want %q", tc.habit, tc.text, tc.variant, got, tc.want)
			}
		})
	}
	for _, l := range []string{"positive", "Negative", "neutral", "sports", "Tech", "x"} {
		for v := range 6 {
			if got := Table[LabelForm].Apply(l, v); got == l {
				t.Errorf("LabelForm.Apply(%q, %d) left the label unchanged", l, v)
			}
		}
	}
}

// TestEnabled: the new habits only behind the option.
func TestEnabled(t *testing.T) {
	var off, on []string
	for _, h := range All() {
		if Enabled(h, false) {
			off = append(off, h.String())
		}
		if Enabled(h, true) {
			on = append(on, h.String())
		}
	}
	if diff := cmp.Diff([]string{"preamble", "quotes", "explanation", "capitalization"}, off); diff != "" {
		t.Errorf("enabled without the option (-want +got):\n%s", diff)
	}
	if len(on) != int(numHabits) {
		t.Errorf("enabled with the option: %v, want all %d", on, numHabits)
	}
}
