package primary

// What the old simulated optimizer in shared/llm/sim reads of the primary:
// its trigger lists and its diagnosis. That coupling is what issue 19 calls
// designed-in improvement; these exports exist only until that optimizer is
// replaced by shared/llm/sim/optimizer, which knows none of them.

// NumHabits is the number of habits, the length of a per-habit array.
const NumHabits = numHabits

// Finding is what Diagnose reads off one reply.
type Finding struct {
	Habits                [NumHabits]bool
	Content               bool
	Preamble, Explanation string
}

// Diagnose compares a reply with the expected answer, as the few-shot
// reading does.
func Diagnose(actual, expected string) Finding {
	f := diagnose(actual, expected)
	return Finding{Habits: f.habits, Content: f.content, Preamble: f.preamble, Explanation: f.explanation}
}

// InstructionText normalizes prompt text for trigger matching.
func InstructionText(parts ...string) string { return instructionText(parts...) }

// Instructed returns which habits the normalized instruction text
// suppresses.
func Instructed(text string) [NumHabits]bool { return instructed(text) }

// WantsLowercase reports whether the normalized text asks for lowercase.
func WantsLowercase(text string) bool { return wantsLowercase(text) }

// Normalize is the key's normalization of a prompt or an input.
func Normalize(s string) string { return normalize(s) }
