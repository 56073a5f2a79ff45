package sim

import (
	"unicode"
	"unicode/utf8"

	"github.com/promptml/promptml/shared/llm/sim/primary"
)

// What optimizer.go reads of the primary: its trigger lists and its
// diagnosis (issue 19: the improvement it finds is designed in). Removed
// with optimizer.go when shared/llm/sim/optimizer is wired.

const numHabits = primary.NumHabits

// Habits lists every habit in tie-break order.
var Habits = primary.Habits

type finding struct {
	habits                [numHabits]bool
	content               bool
	preamble, explanation string
}

func diagnose(actual, expected string) finding {
	f := primary.Diagnose(actual, expected)
	return finding{habits: f.Habits, content: f.Content, preamble: f.Preamble, explanation: f.Explanation}
}

func instructionText(parts ...string) string { return primary.InstructionText(parts...) }

func instructed(text string) [numHabits]bool { return primary.Instructed(text) }

func wantsLowercase(text string) bool { return primary.WantsLowercase(text) }

func normalize(s string) string { return primary.Normalize(s) }

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToTitle(r)) + s[n:]
}
