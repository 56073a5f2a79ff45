package intent

import (
	"os"
	"sort"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"
)

// corpusEntry is one line of testdata/natural-instructions.yaml: an
// instruction written by someone who had not seen this reader, with the
// habits it should remove.
type corpusEntry struct {
	Instruction string   `yaml:"instruction"`
	Removes     []string `yaml:"removes"`
	Task        string   `yaml:"task"`
}

// minCorpusScore is issue 19 item 2's bar: at least 90% of the natural
// instructions read exactly right.
const minCorpusScore = 0.90

// TestNaturalInstructions reads every natural instruction and scores it
// strictly: an entry counts only if Read removes exactly the listed
// habits. A habit removed that the entry does not list is a miss like a
// habit missed (an over-eager reader would make a vague prompt look good),
// and the entry's task does not excuse it. Each miss is logged.
func TestNaturalInstructions(t *testing.T) {
	raw, err := os.ReadFile("../testdata/natural-instructions.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var corpus []corpusEntry
	if err := yaml.Unmarshal(raw, &corpus); err != nil {
		t.Fatalf("yaml.Unmarshal(natural-instructions.yaml): %v", err)
	}
	if len(corpus) < 40 {
		t.Fatalf("the corpus holds %d instructions, want at least 40", len(corpus))
	}
	right := 0
	for i, e := range corpus {
		var want Set
		for _, name := range e.Removes {
			h, ok := ParseHabit(name)
			if !ok {
				t.Fatalf("entry %d (%q) names unknown habit %q", i+1, e.Instruction, name)
			}
			want |= Of(h)
		}
		got := Read(e.Instruction)
		if got == want {
			right++
			continue
		}
		t.Logf("miss %d: %q\n\twant %v\n\tgot  %v (missing %v, extra %v)", i+1, e.Instruction, want, got, want&^got, got&^want)
	}
	score := float64(right) / float64(len(corpus))
	t.Logf("natural instructions: %d/%d exactly right (%.1f%%)", right, len(corpus), 100*score)
	if score < minCorpusScore {
		t.Errorf("natural instructions: %d/%d exactly right (%.1f%%), want at least %.0f%%", right, len(corpus), 100*score, 100*minCorpusScore)
	}
}

// names lists a set's ids, for readable diffs.
func names(s Set) []string {
	var out []string
	for _, h := range s.Habits() {
		out = append(out, h.String())
	}
	sort.Strings(out)
	return out
}

// TestReadRemovesNothing holds instructions that must remove no habit:
// task statements, requests for the habit itself, double negations, and
// sentences that mention a habit's word in passing.
func TestReadRemovesNothing(t *testing.T) {
	tests := []struct {
		name, prompt string
	}{
		{"task only", "Translate the following sentence into French."},
		{"classification task", "Classify the sentiment of the review."},
		{"explain your reasoning", "Explain your reasoning."},
		{"asks for quotes", "Put the answer in quotation marks."},
		{"asks for bold", "Use bold for the label."},
		{"asks for a fence", "Wrap the JSON in a ```json code block."},
		{"asks for a period", "End the sentence with a period."},
		{"asks to capitalize", "Capitalize the first word."},
		{"asks for a label", "Start your reply with 'Answer:'."},
		{"asks for a sign-off", "Finish with a friendly sign-off."},
		{"don't forget to explain", "Don't forget to explain your answer."},
		{"never omit the quotes", "Never omit the quotation marks."},
		{"negation of something else", "Do not translate proper names."},
		{"short answers", "Short answers are fine."},
		{"negated only", "Not just the answer: also say why."},
		{"quoted content", "Never translate 'Bonjour' as 'Good day'."},
		{"an unrelated request", "Write a haiku about cats."},
		{"make sure", "Make sure the translation is accurate."},
		{"in any case", "In any case, answer in French."},
		{"the reference", "The reference answers come from a dictionary."},
		{"a thank-you in passing", "Thanks for your help with this task."},
		{"explanations wanted", "Explanations are welcome and helpful."},
		{"request over only", "Give only the answer, then explain your reasoning and put it in quotes, in bold, with a period at the end, and sign off."},
		{"think step by step", "Think step by step and explain why before answering."},
		{"empty", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Read(tc.prompt)
			want := Set(0)
			if tc.name == "request over only" {
				want = Of(Preamble, AnswerLabel) // the rest of "only the answer" is asked back
			}
			if diff := cmp.Diff(names(want), names(got)); diff != "" {
				t.Errorf("Read(%q) (-want +got):\n%s", tc.prompt, diff)
			}
		})
	}
}
