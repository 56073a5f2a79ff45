// Package intent reads a prompt the way a chat model does: it finds the
// instructions that express the intent to drop one of the simulated
// primary's formatting habits, whatever their wording. It knows concepts
// (what a preamble, a sign-off or a code fence is called, and the text each
// habit writes) and general grammar (negators, their scope, "only X",
// "begin with X", a quoted example of what not to write), not any list of
// accepted sentences. It is pure: no I/O, no randomness, no state.
//
// The optimizer must not import this package (issue 19: the two models
// share no phrase list or habit table).
package intent

import (
	"strings"
)

// Habit is one formatting habit of an untuned chat model, as the primary
// applies it and the natural-instruction corpus names it.
type Habit int

// The habits, in table order. The first four are the primary's original
// ones; the rest are issue 19 item 3's, described in Table for the primary
// to apply behind an option.
const (
	// Preamble is an opening line such as "Sure! Here is the translation:".
	Preamble Habit = iota
	// Quotes wraps the answer in double quotes.
	Quotes
	// Explanation is a sentence after the answer about the answer.
	Explanation
	// Capitalization changes the answer's case.
	Capitalization
	// Signoff is a closing pleasantry such as "Hope this helps!".
	Signoff
	// Bold wraps the answer in markdown **bold**.
	Bold
	// AnswerLabel prefixes the answer with a field label such as "Answer:".
	AnswerLabel
	// TrailingPeriod ends an answer with a full stop its reference lacks.
	TrailingPeriod
	// CodeFence wraps a JSON answer in a ``` code fence.
	CodeFence
	// LabelForm answers a classification with a synonym or another casing
	// of the label ("Positive", "good") instead of the label as listed.
	LabelForm
	numHabits
)

// All lists every habit in table order.
func All() []Habit {
	out := make([]Habit, numHabits)
	for i := range out {
		out[i] = Habit(i)
	}
	return out
}

// String returns the habit's id, as the corpus and docs write it.
func (h Habit) String() string {
	if h < 0 || h >= numHabits {
		return "unknown"
	}
	return Table[h].Name
}

// ParseHabit returns the habit whose id is name.
func ParseHabit(name string) (Habit, bool) {
	for _, s := range Table {
		if s.Name == name {
			return s.Habit, true
		}
	}
	return 0, false
}

// Set is a set of habits.
type Set uint16

// Of returns the set holding hs.
func Of(hs ...Habit) Set {
	var s Set
	for _, h := range hs {
		s |= 1 << uint(h)
	}
	return s
}

// Has reports whether h is in s.
func (s Set) Has(h Habit) bool { return s&(1<<uint(h)) != 0 }

// Habits lists s's habits in table order.
func (s Set) Habits() []Habit {
	var out []Habit
	for _, h := range All() {
		if s.Has(h) {
			out = append(out, h)
		}
	}
	return out
}

// String lists s's ids, comma-separated, in table order.
func (s Set) String() string {
	var names []string
	for _, h := range s.Habits() {
		names = append(names, h.String())
	}
	return "{" + strings.Join(names, ", ") + "}"
}

// Groups of habits that one instruction removes together.
var (
	// before is the text a model writes ahead of the answer.
	before = Of(Preamble, AnswerLabel)
	// after is the text a model writes behind the answer.
	after = Of(Explanation, Signoff)
	// framing is all text that is not the answer: "only the answer",
	// "nothing else". Wrappers (quotes, bold, fences), the final period and
	// the case are part of how the answer itself is written, which "only
	// the answer" does not address.
	framing = before | after
	// chatter is what "be brief" removes: the sentences around the answer,
	// not a field label.
	chatter = Of(Preamble, Explanation, Signoff)
	// markdown is what "no markdown" or "plain text" removes.
	markdown = Of(Bold, CodeFence)
)

// Place is where a habit changes the reply relative to the answer.
type Place int

// The places.
const (
	// Before is text ahead of the answer.
	Before Place = iota
	// Around wraps the answer (quotes, bold, fences).
	Around
	// After is text behind the answer.
	After
	// Form changes the answer's own characters (case, label word, period).
	Form
)

// Applies says for which references a habit can appear at all: a habit
// that would not change a reference is not drawn for it (issue 19 item 3:
// which habits appear depends on the task's ground truths).
type Applies int

// The conditions.
const (
	// Always: any reference.
	Always Applies = iota
	// HasLetters: a reference with at least one letter (case can change).
	HasLetters
	// LacksPeriod: a reference that does not already end in punctuation.
	LacksPeriod
	// IsJSON: a reference that is a JSON object or array.
	IsJSON
	// IsLabel: a one-word reference of a dataset with a small label set.
	IsLabel
)

// Spec describes one habit as data: what it is called, where it acts, the
// texts it writes (which a prompt may quote to forbid it), how often an
// untuned model shows it and on which references. The primary applies the
// habits of this table; Read uses Markers to recognize a quoted example.
type Spec struct {
	// Habit is the habit's id.
	Habit Habit
	// Name is the id as the corpus writes it.
	Name string
	// Place is where it acts.
	Place Place
	// Core marks the primary's original four habits; the others are applied
	// only behind an option (off by default) until the primary enables them.
	Core bool
	// Rate is the share of applicable inputs it appears on, untuned.
	Rate float64
	// Applies says which references it can appear on.
	Applies Applies
	// Surfaces are the texts the habit writes ("%s" is the answer where the
	// habit wraps it); the primary picks one per input.
	Surfaces []string
	// Markers are lower-case fragments of the habit's text. A quoted span
	// in a prompt containing one ("do not start with 'Sure!'") names the
	// habit; markers are matched as word sequences.
	Markers []string
}

// Table is every habit, indexed by Habit.
var Table = [numHabits]Spec{
	Preamble: {Habit: Preamble, Name: "preamble", Place: Before, Core: true, Rate: 0.9, Applies: Always,
		Surfaces: []string{"Sure! Here is the answer:", "Certainly! Here you go:", "Of course. The answer is:"},
		Markers:  []string{"sure", "certainly", "of course", "here is", "here's", "here are", "here you go", "absolutely", "great question", "okay", "ok", "happy to", "the answer is"}},
	Quotes: {Habit: Quotes, Name: "quotes", Place: Around, Core: true, Rate: 0.6, Applies: Always,
		Surfaces: []string{`"%s"`}},
	Explanation: {Habit: Explanation, Name: "explanation", Place: After, Core: true, Rate: 0.6, Applies: Always,
		Surfaces: []string{"This is the most natural way to say it.", "This is based on the main topic of the text."},
		Markers:  []string{"this is because", "because", "this is based on", "the reason", "note", "explanation", "reasoning", "rationale", "this is the most"}},
	Capitalization: {Habit: Capitalization, Name: "capitalization", Place: Form, Core: true, Rate: 0.5, Applies: HasLetters},
	Signoff: {Habit: Signoff, Name: "signoff", Place: After, Rate: 0.4, Applies: Always,
		Surfaces: []string{"Hope this helps!", "Let me know if you need anything else.", "Feel free to ask if you have more questions."},
		Markers:  []string{"hope this helps", "hope that helps", "i hope", "let me know", "feel free", "happy to help", "glad to help", "anything else", "more questions", "any questions", "good luck", "cheers", "best regards", "have a great day"}},
	Bold: {Habit: Bold, Name: "bold", Place: Around, Rate: 0.25, Applies: Always,
		Surfaces: []string{"**%s**"}},
	AnswerLabel: {Habit: AnswerLabel, Name: "answer_label", Place: Before, Rate: 0.3, Applies: Always,
		Surfaces: []string{"Answer: %s", "Result: %s", "Output: %s"}},
	TrailingPeriod: {Habit: TrailingPeriod, Name: "trailing_period", Place: Form, Rate: 0.4, Applies: LacksPeriod,
		Surfaces: []string{"%s."}},
	CodeFence: {Habit: CodeFence, Name: "code_fence", Place: Around, Rate: 0.7, Applies: IsJSON,
		Surfaces: []string{"```json\n%s\n```", "```\n%s\n```"}},
	LabelForm: {Habit: LabelForm, Name: "label_form", Place: Form, Rate: 0.3, Applies: IsLabel},
}
