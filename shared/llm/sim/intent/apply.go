package intent

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Order is the order in which a model's habits transform an answer: first
// the answer's own characters (label word, case, period), then wrappers
// from the inside out, then the text before it, then the text after it.
// The primary applies its habits in this order, its own wording for the
// core four and Apply for the others.
var Order = []Habit{LabelForm, Capitalization, TrailingPeriod, Quotes, Bold, CodeFence, AnswerLabel, Preamble, Explanation, Signoff}

// Enabled reports whether the primary may apply h: the core four always,
// the others only when the option that turns them on is set (issue 19 item
// 3; off by default so that existing runs and their expected trajectories
// do not change until the primary opts in).
func Enabled(h Habit, extras bool) bool {
	return h >= 0 && h < numHabits && (Table[h].Core || extras)
}

// maxLabels is the most distinct answers a dataset may have for its
// answers to count as a label set.
const maxLabels = 12

// AppliesTo reports whether the habit can change this reference at all,
// given the dataset's distinct answers (labels; nil when unknown): a final
// period is drawn only for a reference without one, a code fence only for
// JSON, a label form only for a one-word label of a small label set.
func (s Spec) AppliesTo(truth string, labels []string) bool {
	t := strings.TrimSpace(truth)
	switch s.Applies {
	case HasLetters:
		return strings.IndexFunc(t, unicode.IsLetter) >= 0
	case LacksPeriod:
		if t == "" || isJSON(t) {
			return false
		}
		r, _ := utf8.DecodeLastRuneInString(t)
		return !unicode.IsPunct(r)
	case IsJSON:
		return isJSON(t)
	case IsLabel:
		if len(strings.Fields(t)) != 1 || len(labels) < 2 || len(labels) > maxLabels {
			return false
		}
		for _, l := range labels {
			if strings.TrimSpace(l) == t {
				return true
			}
		}
		return false
	}
	return true
}

// isJSON reports whether s is a JSON object or array.
func isJSON(s string) bool {
	return (strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[")) && json.Valid([]byte(s))
}

// labelSynonyms are the words a chat model reaches for instead of a
// sentiment label; other labels get another casing.
var labelSynonyms = map[string][]string{
	"positive": {"Positive", "good", "Favorable"},
	"negative": {"Negative", "bad", "Unfavorable"},
	"neutral":  {"Neutral", "mixed", "Neither"},
}

// Apply writes the habit into text (the answer, or the reply so far for
// the habits outside it), choosing its variant-th surface (the caller draws
// variant, so that the same input gets the same wording). The core habits'
// task-aware wording is the primary's; for them Apply uses the table's
// generic surfaces.
func (s Spec) Apply(text string, variant int) string {
	pick := func(list []string) string {
		if len(list) == 0 {
			return text
		}
		if variant < 0 {
			variant = -variant
		}
		return list[variant%len(list)]
	}
	switch s.Habit {
	case Preamble:
		return pick(s.Surfaces) + " " + text
	case Explanation, Signoff:
		return text + " " + pick(s.Surfaces)
	case Quotes, Bold, AnswerLabel, CodeFence:
		return fmt.Sprintf(pick(s.Surfaces), text)
	case TrailingPeriod:
		return text + "."
	case Capitalization:
		return capitalize(text)
	case LabelForm:
		key := strings.ToLower(strings.TrimSpace(text))
		forms := labelSynonyms[key]
		if forms == nil {
			forms = []string{capitalize(key), strings.ToUpper(key), key}
		}
		var other []string // only forms that change the label
		for _, f := range forms {
			if f != text {
				other = append(other, f)
			}
		}
		return pick(other)
	}
	return text
}

// capitalize upper-cases the first letter of s.
func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToTitle(r)) + s[n:]
}
