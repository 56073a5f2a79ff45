package primary

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/llm/sim/intent"
)

// unknownAnswers are what the primary says about an input it has no key
// for: plausible, unhelpful, and never the truth.
var unknownAnswers = []string{
	"I'm not sure I can help with that.",
	"I don't have enough information to answer that.",
	"Could you clarify what you would like me to do?",
}

// Answer replies to one primary request: the key's answer (or a deliberate
// wrong one), wrapped in the habits the prompt does not suppress. An error
// is a transient *llm.Error: the answer key could not be read.
func (m *Model) Answer(ctx context.Context, req *llm.Request) (string, error) {
	temp := temperature(req)
	// vseed drives everything temperature may vary; at temperature 0 the
	// variant choices depend on the input alone.
	vseed := int64(hashOf(m.seed, "temperature", req.System, req.Prompt, seedString(req.Seed)))
	if m.key == nil {
		return unknownAnswers[pick(m.seed, len(unknownAnswers), "unknown", req.Prompt)], nil
	}
	input, truth, ok, err := m.key.Lookup(ctx, req.Prompt)
	if err != nil {
		return "", &llm.Error{Kind: llm.Transient, Code: 503, Reason: "unavailable",
			Err: fmt.Errorf("sim: answer key lookup: %w", err)}
	}
	if !ok {
		return unknownAnswers[pick(m.seed, len(unknownAnswers), "unknown", req.Prompt)], nil
	}
	// Instructions are the system prompt and whatever follows the input (the
	// output prompt); the input itself may say anything without effect.
	rest := normalize(req.Prompt)
	rest = strings.TrimPrefix(rest, input)
	instr := instructionText(req.System, rest)
	demoOff, demoOn, err := m.demoEffects(ctx, append(ParseDemos(req.System), ParseDemos(rest)...))
	if err != nil {
		return "", err
	}
	// The instructions are read by intent, not matched against phrase
	// lists: any wording that expresses the wish removes the habit.
	reading := intent.Parse(req.System + "\n" + rest)
	told := removed(reading.Removes)

	var on [numHabits]bool
	for _, h := range Habits {
		applies := demoOn[h] || chance(m.seed, m.rates[h], "habit", h.String(), input)
		off := told[h] || demoOff[h]
		if applies && off && temp > 0 && chance(vseed, ReappearPerTemperature*temp, "reappear", h.String()) {
			off = false
		}
		on[h] = applies && !off
	}

	if chance(m.noiseSeed, m.noise, "noise", req.System, req.Prompt) {
		if chance(m.noiseSeed, 0.5, "noise-lucky", req.System, req.Prompt) {
			return truth, nil
		}
		return m.wrongAnswer(input, truth), nil
	}
	answer := truth
	if chance(m.seed, m.wrongRate, "wrong", input) {
		answer = m.wrongAnswer(input, truth)
	}
	if reading.Lowercase {
		answer = strings.ToLower(answer)
		on[Capitalization] = false // an explicit case instruction decides the case
	}

	vs := m.seed
	if temp > 0 {
		vs = vseed
	}
	tk := detectTask(input, instr)
	if tk == taskGeneric {
		tk = m.labelTask(input)
	}
	if on[Capitalization] {
		answer = recase(answer)
	}
	if on[Quotes] {
		answer = `"` + answer + `"`
	}
	if on[Preamble] {
		p := preambles[tk]
		sep := []string{"\n", " "}[pick(vs, 2, "preamble-sep", input)]
		answer = p[pick(vs, len(p), "preamble", input)] + sep + answer
	}
	if on[Explanation] {
		e := explanations[tk]
		text := strings.ReplaceAll(e[pick(vs, len(e), "explanation", input)], "%s", targetLanguage(input))
		sep := []string{" ", "\n\n"}[pick(vs, 2, "explanation-sep", input)]
		answer += sep + text
	}
	// Whitespace jitter at temperature > 0 stays at the ends of the reply:
	// exact match trims it, so it is visible in logs but harmless.
	if temp > 0 && chance(vseed, math.Min(1, 0.5*temp), "whitespace") {
		answer = []string{answer + "\n", " " + answer, answer + " \n"}[pick(vseed, 3, "whitespace-kind")]
	}
	return answer, nil
}

// demoEffects reads few-shot demonstrations: a habit that no demonstration's
// output shows is suppressed (off), one that every demonstration shows is
// always applied (on). Capitalization can only be judged for demonstrations
// whose input is in the key (their output is compared with the truth); the
// other habits are read from the output's shape when the input is unknown.
func (m *Model) demoEffects(ctx context.Context, demos []Demo) (off, on [numHabits]bool, err error) {
	if len(demos) == 0 {
		return off, on, nil
	}
	var shown, judged [numHabits]int
	for _, d := range demos {
		in, truth, ok, err := m.key.Lookup(ctx, d.Input)
		if err != nil {
			return off, on, &llm.Error{Kind: llm.Transient, Code: 503, Reason: "unavailable",
				Err: fmt.Errorf("sim: answer key lookup of a demonstration: %w", err)}
		}
		known := ok && in == normalize(d.Input)
		var f finding
		if known {
			f = diagnose(d.Output, truth)
		} else {
			f = shape(d.Output)
		}
		for _, h := range Habits {
			if h == Capitalization && !known {
				continue
			}
			judged[h]++
			if f.habits[h] {
				shown[h]++
			}
		}
	}
	for _, h := range Habits {
		if judged[h] > 0 {
			off[h] = shown[h] == 0
			on[h] = shown[h] == judged[h]
		}
	}
	return off, on, nil
}

// labelTask recognizes a classification dataset by its answers when the
// prompt does not say what the task is: a handful of one-word answers is a
// label set, and one holding "positive" or "negative" is sentiment.
func (m *Model) labelTask(input string) task {
	a, ok := m.key.(AlternativeSource)
	if !ok {
		return taskGeneric
	}
	answers := a.Alternatives(input)
	if len(answers) < 2 || len(answers) > maxLabels {
		return taskGeneric
	}
	sentiment := false
	for _, s := range answers {
		if len(strings.Fields(s)) != 1 {
			return taskGeneric
		}
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "positive", "negative":
			sentiment = true
		}
	}
	if sentiment {
		return taskSentiment
	}
	return taskClassify
}

// maxLabels is the most distinct answers a dataset may have to count as a
// label set.
const maxLabels = 12

// wrongAnswer is a plausible mistake: a multi-word answer loses a word; a
// one-word answer (a label) becomes another answer of the same dataset.
func (m *Model) wrongAnswer(input, truth string) string {
	h := hashOf(m.seed, "wrong-answer", input)
	words := strings.Fields(truth)
	if len(words) >= 2 {
		i := int(h % uint64(len(words)))
		return strings.Join(append(words[:i:i], words[i+1:]...), " ")
	}
	var others []string
	if a, ok := m.key.(AlternativeSource); ok {
		for _, s := range a.Alternatives(input) {
			if !strings.EqualFold(strings.TrimSpace(s), strings.TrimSpace(truth)) {
				others = append(others, s)
			}
		}
	}
	if len(others) > 0 {
		return others[h%uint64(len(others))]
	}
	return "I'm not sure."
}

// intentHabit is each habit's id in the intent package's table.
var intentHabit = [numHabits]intent.Habit{
	Preamble:       intent.Preamble,
	Quotes:         intent.Quotes,
	Explanation:    intent.Explanation,
	Capitalization: intent.Capitalization,
}

// removed returns which of the primary's habits the set of removed habits
// holds.
func removed(s intent.Set) [numHabits]bool {
	var told [numHabits]bool
	for _, h := range Habits {
		told[h] = s.Has(intentHabit[h])
	}
	return told
}
