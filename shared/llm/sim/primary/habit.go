package primary

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Habit is one formatting habit of an untuned chat model. The simulator
// wraps its answers in habits; prompts remove them; the sim optimizer names
// them from failures.
type Habit int

// The habits, in the order the optimizer breaks ties and the order they are
// documented in docs/simulator.md.
const (
	// Preamble is an opening line such as "Sure! Here is the translation:".
	Preamble Habit = iota
	// Quotes wraps the answer in double quotes.
	Quotes
	// Explanation is a sentence after the answer.
	Explanation
	// Capitalization changes the answer's case (capitalized, Title Case or
	// UPPER CASE), which exact match notices.
	Capitalization
	numHabits
)

// Habits lists every habit in tie-break order.
var Habits = []Habit{Preamble, Quotes, Explanation, Capitalization}

// String returns the habit's name as docs and reasoning use it.
func (h Habit) String() string {
	switch h {
	case Preamble:
		return "preamble"
	case Quotes:
		return "quotes"
	case Explanation:
		return "explanation"
	case Capitalization:
		return "capitalization"
	}
	return "unknown"
}

// DefaultRates is the share of inputs each habit applies to when no prompt
// instruction or demonstration suppresses it. With these rates an untuned
// prompt gets about 1% exact match (0.1 × 0.4 × 0.4 × 0.5 × 0.95).
var DefaultRates = map[Habit]float64{
	Preamble:       0.9,
	Quotes:         0.6,
	Explanation:    0.6,
	Capitalization: 0.5,
}

// instructionText normalizes prompt text for trigger matching: lower case,
// typographic apostrophes made straight, runs of whitespace collapsed to one
// space (with a space at each end so a trigger may end in a word boundary).
func instructionText(parts ...string) string {
	s := strings.ToLower(strings.Join(parts, "\n"))
	s = strings.NewReplacer("\u2019", "'", "\u2018", "'").Replace(s)
	return " " + strings.Join(strings.Fields(s), " ") + " "
}

// task is what a prompt asks for, which selects the habit wording.
type task int

const (
	taskGeneric task = iota
	taskTranslate
	taskSentiment
	taskClassify
	taskSummary
)

// detectTask guesses the task from the input and the instructions, the way a
// chat model's "Here is the translation:" reflects what it thinks it is doing.
func detectTask(input, instructions string) task {
	in := strings.ToLower(input)
	all := in + " " + instructions
	switch {
	case strings.HasPrefix(in, "translate") || strings.Contains(all, "translat"):
		return taskTranslate
	case strings.Contains(all, "sentiment"):
		return taskSentiment
	case strings.Contains(all, "classif") || strings.Contains(all, "categor") || strings.Contains(all, "label"):
		return taskClassify
	case strings.Contains(all, "summar"):
		return taskSummary
	}
	return taskGeneric
}

// preambles per task; every one ends in ':' so the optimizer (and a reader)
// can tell where the answer starts.
var preambles = map[task][]string{
	taskGeneric:   {"Sure! Here is the answer:", "Certainly! Here you go:", "Of course. The answer is:"},
	taskTranslate: {"Sure! Here is the translation:", "Certainly! Here is the translation:", "Here's the translation:"},
	taskSentiment: {"The sentiment is:", "Sure! The sentiment of this text is:", "Sentiment:"},
	taskClassify:  {"The category is:", "Sure! Here is the label:", "Classification:"},
	taskSummary:   {"Sure! Here is a summary:", "Here's a short summary:", "Summary:"},
}

// explanations per task. They avoid words a typical answer contains (such as
// "positive") so that the answer stays findable in the reply.
var explanations = map[task][]string{
	taskGeneric:   {"Let me know if you need anything else!", "I hope this helps!", "Feel free to ask if you have more questions."},
	taskTranslate: {"This is the most natural way to say it in %s.", "Let me know if you need anything else!", "This is a common way to express it in %s."},
	taskSentiment: {"The wording makes the overall tone clear.", "This is based on the tone of the text.", "Let me know if you need anything else!"},
	taskClassify:  {"This is based on the main topic of the text.", "Let me know if you need anything else!", "I hope this helps!"},
	taskSummary:   {"Let me know if you would like a longer version.", "I hope this helps!", "This covers the main points."},
}

// targetLanguage extracts X from "Translate ... to X:" for the explanation.
func targetLanguage(input string) string {
	low := strings.ToLower(input)
	i := strings.Index(low, " to ")
	if i < 0 {
		i = strings.Index(low, " into ")
		if i < 0 {
			return "that language"
		}
		i += len(" into ")
	} else {
		i += len(" to ")
	}
	rest := input[i:]
	end := strings.IndexAny(rest, ":\n")
	if end < 0 {
		return "that language"
	}
	lang := strings.TrimSpace(rest[:end])
	if lang == "" || len(strings.Fields(lang)) > 3 {
		return "that language"
	}
	return lang
}

// recase is the capitalization habit: an answer that starts lowercase gets a
// capital; otherwise Title Case, and if that changes nothing, UPPER CASE; an
// answer with no lowercase letters is lowercased. It returns s unchanged when
// s has no letters (nothing for the habit to do).
func recase(s string) string {
	r, _ := utf8.DecodeRuneInString(s)
	if unicode.IsLower(r) {
		return capitalize(s)
	}
	if t := titleCase(s); t != s {
		return t
	}
	if u := strings.ToUpper(s); u != s {
		return u
	}
	return strings.ToLower(s)
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToTitle(r)) + s[n:]
}

// titleCase capitalizes the first letter of every space-separated word.
func titleCase(s string) string {
	words := strings.Split(s, " ")
	for i, w := range words {
		if w != "" {
			words[i] = capitalize(w)
		}
	}
	return strings.Join(words, " ")
}
