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
	var tp, fp, fn [numHabits]int // per habit, over all entries
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
		for _, h := range All() {
			switch {
			case got.Has(h) && want.Has(h):
				tp[h]++
			case got.Has(h):
				fp[h]++
			case want.Has(h):
				fn[h]++
			}
		}
		if got == want {
			right++
			continue
		}
		t.Logf("miss %d: %q\n\twant %v\n\tgot  %v (missing %v, extra %v)", i+1, e.Instruction, want, got, want&^got, got&^want)
	}
	for _, h := range All() {
		t.Logf("%-15s removed rightly %2d, wrongly %2d, missed %2d", h, tp[h], fp[h], fn[h])
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
		{"think step by step", "Think step by step and explain why before answering."},
		{"long words", "Use long words."},
		{"translate names", "Do not translate names of people or places."},
		{"not always obvious", "Read the text carefully; the answer is not always obvious."},
		{"say unknown", "Don't guess if you are unsure; say 'unknown'."},
		{"formal or informal", "Use formal French (vous), not informal (tu)."},
		{"skip no words", "Do not skip any words of the source sentence."},
		{"JSON keys", "Reply in JSON with keys 'label' and 'score'."},
		{"no new information", "Do not add new information to the translation."},
		{"full sentences", "Answer the question in full sentences."},
		{"case-insensitive", "The answer is case-insensitive."},
		{"don't worry", "Don't worry about capitalization or punctuation."},
		{"don't hesitate", "Don't hesitate to explain your answer."},
		{"initial sample prompt", "You are a helpful assistant.\nAnswer the request."},
		{"answer in french", "Only answer in French."},
		{"quote the source", "Quote the source sentence before translating it."},
		{"include a sign-off", "Be sure to include a sign-off."},
		{"explanation after", "Add a short explanation after the answer."},
		{"requests the preamble", "Start with a short introduction, then give the answer."},
		{"answer directly is not a list", "Answer with yes or no, then explain."},
		{"empty", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Read(tc.prompt)
			if diff := cmp.Diff([]string(nil), names(got)); diff != "" {
				t.Errorf("Read(%q) (-want +got):\n%s", tc.prompt, diff)
			}
		})
	}
}

// TestRead holds instructions of this package's own wording, none from
// the corpus, one per grammatical form: that the forms generalize beyond
// the corpus's sentences is what the lead's held-out corpus measures, and
// these are the cases a change to the grammar must keep.
func TestRead(t *testing.T) {
	F := framing
	tests := []struct {
		name, prompt string
		want         Set
	}{
		{"issue 19's prompt", "Reply with the French translation only. No intro, no quotation marks, no notes afterwards. Use ordinary sentence case.", F | Of(Quotes, Capitalization)},
		{"nothing but", "Give me nothing but the answer.", F},
		{"verb of the concept", "Don't introduce your answer.", Of(Preamble)},
		{"refrain from", "Please refrain from adding any commentary.", Of(Explanation)},
		{"avoid -ing", "Avoid wrapping the output in quotes.", Of(Quotes)},
		{"surround", "Don't surround the answer with quotation marks.", Of(Quotes)},
		{"backward negation", "Quotation marks are unnecessary.", Of(Quotes)},
		{"no need to", "There's no need to explain.", Of(Explanation)},
		{"no need for two", "No need for an introduction or a conclusion.", Of(Preamble, Explanation, Signoff)},
		{"omit", "Omit any greeting.", Of(Preamble)},
		{"pleasantry placed by the verb", "Don't open with a pleasantry like 'Great question!'.", Of(Preamble)},
		{"offer to help", "Do not end your reply with an offer to help further.", Of(Signoff)},
		{"closing pleasantries", "No closing pleasantries.", Of(Signoff)},
		{"markdown", "Never use markdown.", Of(Bold, CodeFence)},
		{"asterisks", "Don't use asterisks for emphasis.", Of(Bold)},
		{"bold text", "Avoid bold text.", Of(Bold)},
		{"triple backticks", "Output raw JSON, not wrapped in triple backticks.", Of(CodeFence)},
		{"code block", "Do not format the JSON as a code block.", Of(CodeFence)},
		{"only the object", "Return only the JSON object.", F},
		{"quoted labels", "Don't write 'Answer:' or 'Label:' before your reply.", Of(AnswerLabel)},
		{"drop the prefix", "Drop the 'Sentiment:' prefix.", Of(AnswerLabel)},
		{"full stop at the end", "Don't put a full stop at the end.", Of(TrailingPeriod)},
		{"no period", "No period at the end of the answer.", Of(TrailingPeriod)},
		{"don't change the capitalization", "Don't change the capitalization.", Of(Capitalization)},
		{"keep the casing", "Keep the original casing of the source.", Of(Capitalization)},
		{"lower case", "Answer in lower case.", Of(Capitalization)},
		{"match the case", "Match the case used in the reference exactly.", Of(Capitalization)},
		{"category names as listed", "Use the category names exactly as listed.", Of(LabelForm)},
		{"no synonyms", "Don't use synonyms for the labels.", Of(LabelForm)},
		{"options after a colon", "Pick one of: sports, politics, tech.", Of(LabelForm)},
		{"single word", "Respond with a single word.", F},
		{"exactly one word", "Reply with exactly one word.", F},
		{"concise", "Be concise.", chatter},
		{"brief and no explanation", "Keep it brief: the answer, no explanation.", chatter},
		{"just give me", "Just give me the translation, please.", F},
		{"noun only", "Translation only, no quotes.", F | Of(Quotes)},
		{"nothing after", "Do not add any text after the answer.", after},
		{"nothing before", "Don't write anything before the answer.", before},
		{"nothing except", "Write nothing except the label.", F},
		{"nothing more", "The reply must contain the answer and nothing more.", F},
		{"skip two", "Skip the explanation and the sign-off.", Of(Explanation, Signoff)},
		{"without a preface", "Without any preface, state the answer.", Of(Preamble)},
		{"or add", "Do not explain your choice or add closing remarks.", Of(Explanation, Signoff)},
		{"quoted openers", "Don't say 'Sure!', 'Certainly!' or similar.", Of(Preamble)},
		{"quoted preamble", "Never begin with 'Here's the translation:'.", Of(Preamble)},
		{"quoted sign-off", "Do not finish with 'Let me know if you have any other questions.'", Of(Signoff)},
		{"quoted at the end", "Don't add 'I hope this helps' at the end.", Of(Signoff)},
		{"two avoids", "Avoid quoting the answer and avoid bold.", Of(Quotes, Bold)},
		{"two not needed", "Quotes and bold are not needed.", Of(Quotes, Bold)},
		{"markdown code fences", "No markdown code fences.", Of(CodeFence)},
		{"bold anything", "Don't bold anything.", Of(Bold)},
		{"plain text", "Write the answer in plain text.", Of(Bold, CodeFence)},
		{"request kept", "Put quotes around the answer, but no explanation.", Of(Explanation)},
		{"start with the translation", "Start directly with the translation.", Of(Preamble)},
		{"quoted braces", "Your reply should start with '{' and end with '}'.", F | Of(CodeFence)},
		{"lowercase without period", "Give the label in lowercase, without a trailing period.", Of(Capitalization, TrailingPeriod)},
		{"heading", "Do not include the word 'Translation' or any heading.", Of(AnswerLabel)},
		{"capitalise labels", "Don't capitalise labels.", Of(Capitalization)},
		{"short, no preamble", "Keep the answer short; no preamble, no sign-off.", Of(Preamble, Signoff)},
		{"quoted options", "Please answer with only 'positive' or 'negative'.", F | Of(LabelForm)},
		{"quoted note", "Do not add a 'Note:' section after the answer.", Of(Explanation)},
		{"json fences", "Never wrap JSON in ```json fences.", Of(CodeFence)},
		{"anything other than", "Don't respond with anything other than the translation.", F},
		{"labels as given", "Lowercase labels only, exactly as given.", Of(Capitalization, LabelForm)},
		{"stop after", "Stop right after the answer.", after},
		{"request over only", "Give only the answer, then explain your reasoning and put it in quotes, in bold, with a period at the end, and sign off.", before},
		{"only want", "I only want the translated sentence.", F},
		{"one-word answer", "Give a one-word answer.", F},
		{"not chatty", "Don't be chatty.", chatter},
		{"label alone", "Respond with the label alone.", F},
		{"leave out", "Please leave out the introduction.", Of(Preamble)},
		{"prepend", "Do not prepend 'Answer:'.", Of(AnswerLabel)},
		{"precede with a label", "Do not precede the answer with any label.", Of(AnswerLabel)},
		{"preface with anything", "Do not preface the answer with anything.", before},
		{"sign-off examples", "Omit sign-offs such as 'Cheers'.", Of(Signoff)},
		{"goodbye", "Don't wish me luck or say goodbye.", Of(Signoff)},
		{"but do explain", "Don't add a preamble, but do explain.", Of(Preamble)},
		{"wrap, unnamed", "Do not wrap the answer.", Of(Quotes, Bold, CodeFence)},
		{"wrap, named", "Do not wrap the answer in bold.", Of(Bold)},
		{"describe how", "Don't describe how you got the answer.", Of(Explanation)},
		{"label as a verb", "Don't label your answer.", Of(AnswerLabel)},
		{"starting and ending with braces", "Output just the JSON object, starting with { and ending with }.", F | Of(CodeFence)},
		{"label wording", "Don't change the label wording.", Of(LabelForm)},
		{"restate the question", "Don't restate the question.", Of(Preamble)},
		{"just answer", "Just answer.", F},
		{"say nothing besides", "Say nothing besides the label.", F},
		{"no postscript", "No preamble or postscript.", Of(Preamble, Explanation, Signoff)},
		{"pleasantries at the end", "No pleasantries at the end.", Of(Signoff)},
		{"options after with", "Respond with positive, negative or neutral.", Of(LabelForm)},
		{"no yapping", "No yapping.", chatter},
		{"a colon", "Do NOT include the word 'Answer' or a colon before your reply.", Of(AnswerLabel)},
		{"don't format", "Don't format the output.", Of(Bold, CodeFence)},
		{"stars", "Please don't put stars around words.", Of(Bold)},
		{"leading or trailing", "No leading or trailing text.", F},
		{"longest marker", "Avoid phrases like 'I hope this helps' or 'Happy to help'.", Of(Signoff)},
		{"raw JSON only", "Output raw JSON only.", F},
		{"entire response", "Your entire response should be the answer.", F},
		{"then stop", "Write the answer, then stop.", after},
		{"follow with anything", "Don't follow the answer with anything.", after},
		{"engine and nothing else", "You are a translation engine. Output the French text and nothing else.", F},
		{"contrast: period", "Write 'le chat', not 'le chat.'", Of(TrailingPeriod)},
		{"rather than", "Use plain words rather than quotation marks.", Of(Quotes)},
		{"instead of", "Write the label instead of a sentence with quotes around it.", Of(Quotes)},
		{"contrast: quotes, both quoted", `Write 'Bonjour' rather than '"Bonjour"'.`, Of(Quotes)},
		{"contrast: case", "Write 'bonjour le monde', not 'Bonjour Le Monde'.", Of(Capitalization)},
		{"contrast: label case", "Answer with the label as 'neutral', not 'Neutral'.", Of(LabelForm)},
		{"contrast: field label", "Reply 'Paris', not 'Answer: Paris'.", Of(AnswerLabel)},
		{"contrast: bold", "Write 'Paris' instead of '**Paris**'.", Of(Bold)},
		{"contrast: trailing sentence", "Reply 'Paris', not 'Paris. Hope this helps!'", Of(Signoff)},
		{"comma ends the scope before a preposition", "Answer only with the label, no quotes, in lowercase.", F | Of(Quotes, Capitalization)},
		{"markdown in the prompt itself", "**Rules:**\n- **No** bold in the answer\n- no quotes\n- answer *only* with the label", F | Of(Bold, Quotes)},
		{"by itself", "Output the category name by itself.", F},
		{"on its own", "Give the label on its own, lowercase.", F | Of(Capitalization)},
		{"precede with text", "Don't precede the JSON with any text.", before},
		{"first character", "The first character of your reply must be '{'.", before | Of(CodeFence)},
		{"last character", "The last character of your reply must be '}'.", after | Of(CodeFence)},
		{"provided labels", "Only use the provided labels.", Of(LabelForm)},
		{"invented labels", "Do not invent new labels.", Of(LabelForm)},
		{"postamble", "No preamble, no postamble.", Of(Preamble, Explanation, Signoff)},
		{"that's it", "Answer with the translation. That's it.", F},
		{"no emojis", "No emojis.", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(names(tc.want), names(Read(tc.prompt))); diff != "" {
				t.Errorf("Read(%q) (-want +got):\n%s", tc.prompt, diff)
			}
		})
	}
}

// FuzzRead: any text reads without panicking, the same way twice, and a
// requested habit is never removed.
func FuzzRead(f *testing.F) {
	for _, s := range []string{"", "'", "\"", "``", "**", "Don't '", "no 'Answer:", "only", "nothing", "(a / b", ": a, b, or",
		"Don't forget to explain; only the answer.", "Begin with {", "x\u2019s \u201cquoted\u201d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, b := Parse(s), Parse(s)
		if a != b {
			t.Fatalf("Parse(%q) differs between calls: %+v, %+v", s, a, b)
		}
		if a.Removes&a.Requests != 0 {
			t.Fatalf("Parse(%q) removes requested habits %v", s, a.Removes&a.Requests)
		}
		if a.Removes >= 1<<uint(numHabits) {
			t.Fatalf("Parse(%q) removes unknown habits %b", s, a.Removes)
		}
	})
}
