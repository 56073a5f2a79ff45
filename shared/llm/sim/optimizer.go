package sim

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/optimize"
)

// MaxFixesPerProposal is how many habits one proposal fixes, so that a run
// improves over two or three epochs instead of all at once.
const MaxFixesPerProposal = 2

// DefaultStrategy is used when Data.Strategy is empty or unknown.
const DefaultStrategy = "rewrite"

// strategy renders the optimizer's reply for one strategy from the data and
// the shared plan. A new strategy ("edit", "fewshot") is one more function
// and one more entry in strategies; diagnosis and planning are shared.
type strategy func(d optimize.Data, p plan) any

var strategies = map[string]strategy{
	optimize.StrategyRewrite: rewrite,
	optimize.StrategyEdit:    edit,
	optimize.StrategyFewShot: fewshot,
}

// fixPhrases are the instruction sentences the optimizer adds, per habit.
// Each contains triggers of its own habit only (a test checks it), so one
// sentence fixes exactly one habit. Data.Candidate picks the phrasing, so K
// parallel candidates differ.
var fixPhrases = [numHabits][]string{
	Preamble: {
		"Start directly with the answer; do not add a preamble.",
		"Begin directly with the answer, without an introduction such as \"Sure!\".",
		"Do not add any introduction before the answer.",
	},
	Quotes: {
		"Do not wrap the answer in quotation marks.",
		"Write the answer without quotes.",
		"Return the answer unquoted.",
	},
	Explanation: {
		"Do not explain the answer or add any text after it.",
		"Add no explanation or commentary after the answer.",
		"End your reply right after the answer, without any explanation.",
	},
	Capitalization: {
		"Preserve the exact capitalization the answer calls for.",
		"Keep the original case of every word: do not change the case.",
		"Match the case of a correct answer exactly; no Title Case or UPPER CASE.",
	},
}

// lowercasePhrase is offered first for capitalization when every expected
// answer in the failures is lowercase (labels such as "positive").
const lowercasePhrase = "Write the answer in lowercase."

// optimize answers an optimizer request. The data block is the only thing
// read, and only as data: its strings are compared and counted, never
// interpreted or copied into the prompts.
func (m *Model) optimize(req *llm.Request) (string, error) {
	d, err := optimize.DecodeData(req.Prompt)
	if err != nil {
		return "", badRequest(fmt.Errorf("sim optimizer: %w", err))
	}
	s, ok := strategies[strings.ToLower(strings.TrimSpace(d.Strategy))]
	if !ok {
		s = strategies[DefaultStrategy]
	}
	b, err := json.Marshal(s(d, makePlan(d, diagnoseAll(d.Failures))))
	if err != nil {
		return "", fmt.Errorf("sim optimizer: marshal proposal: %w", err)
	}
	return string(b), nil
}

// diagnosis aggregates the findings over all failures.
type diagnosis struct {
	n           int
	counts      [numHabits]int
	content     int
	preamble    string // first preamble seen, for the reasoning
	explanation string // first explanation seen, for the reasoning
	lowercase   bool   // every expected answer is lowercase
}

func diagnoseAll(fails []optimize.Example) diagnosis {
	dg := diagnosis{n: len(fails), lowercase: len(fails) > 0}
	for _, ex := range fails {
		f := diagnose(ex.Actual, ex.Expected)
		for _, h := range Habits {
			if f.habits[h] {
				dg.counts[h]++
			}
		}
		if f.content {
			dg.content++
		}
		if dg.preamble == "" {
			dg.preamble = f.preamble
		}
		if dg.explanation == "" {
			dg.explanation = f.explanation
		}
		if e := strings.TrimSpace(ex.Expected); e == "" || strings.ToLower(e) != e {
			dg.lowercase = false
		}
	}
	return dg
}

// plan is what to change, shared by all strategies.
type plan struct {
	diag    diagnosis
	fix     []Habit // fixed now, most frequent first
	later   []Habit // fixable, left for a later epoch
	already []Habit // seen although the prompts already ask against it
}

// makePlan ranks the habits seen in the failures by count (ties in Habits
// order) and picks the first MaxFixesPerProposal that the current prompts do
// not already address, using the same trigger lists the primary obeys.
func makePlan(d optimize.Data, dg diagnosis) plan {
	p := plan{diag: dg}
	told := instructed(instructionText(d.SystemPrompt, d.OutputPrompt))
	ranked := append([]Habit(nil), Habits...)
	sort.SliceStable(ranked, func(i, j int) bool { return dg.counts[ranked[i]] > dg.counts[ranked[j]] })
	for _, h := range ranked {
		switch {
		case dg.counts[h] == 0:
		case told[h]:
			p.already = append(p.already, h)
		case len(p.fix) < MaxFixesPerProposal:
			p.fix = append(p.fix, h)
		default:
			p.later = append(p.later, h)
		}
	}
	return p
}

// phrases returns the candidate sentences fixing h.
func (p plan) phrases(h Habit) []string {
	if h == Capitalization && p.diag.lowercase {
		return append([]string{lowercasePhrase}, fixPhrases[h]...)
	}
	return fixPhrases[h]
}

// rewrite returns full new prompts: the system prompt unchanged and one
// sentence per fixed habit appended to the output prompt. Data.Candidate
// picks the phrasings; a combination identical to a history entry is skipped
// for the next one.
func rewrite(d optimize.Data, p plan) any {
	if len(p.fix) == 0 {
		return optimize.Proposal{SystemPrompt: d.SystemPrompt, OutputPrompt: d.OutputPrompt, Reasoning: p.reasoning(nil)}
	}
	combos := 1
	for _, h := range p.fix {
		combos *= len(p.phrases(h))
	}
	var out string
	var added []string
	for v := 0; v < combos; v++ {
		out, added = d.OutputPrompt, nil
		radix := 1
		for _, h := range p.fix {
			ph := p.phrases(h)
			s := ph[(max(d.Candidate, 0)+v/radix)%len(ph)]
			radix *= len(ph)
			out = appendSentence(out, s)
			added = append(added, s)
		}
		if !inHistory(d, d.SystemPrompt, out) {
			break
		}
	}
	return optimize.Proposal{SystemPrompt: d.SystemPrompt, OutputPrompt: out, Reasoning: p.reasoning(added)}
}

// edit returns the rewrite's new sentences as one insert edit on the output
// prompt, anchored on its last sentence (or, if that sentence occurs twice,
// the whole prompt), which is how a careful model quotes a span. With
// nothing to fix it returns an edit that changes nothing, and the pipeline
// sees a candidate identical to the incumbent.
func edit(d optimize.Data, p plan) any {
	r := rewrite(d, p).(optimize.Proposal)
	base := strings.TrimRight(d.OutputPrompt, " \t\n")
	e := optimize.Edit{Op: optimize.OpInsert, Target: "output_prompt"}
	if r.OutputPrompt != d.OutputPrompt {
		e.Text = r.OutputPrompt[len(base):]
		if base != "" {
			e.Quote = base
			if last := lastSentence(base); strings.Count(d.OutputPrompt, last) == 1 {
				e.Quote = last
			}
		}
	}
	return optimize.Proposal{Edits: []optimize.Edit{e},
		Reasoning: strings.Replace(r.Reasoning, "Added to the output prompt", "Inserted after the output prompt's last sentence", 1)}
}

// lastSentence returns the last sentence of s (from the last ". ", "! " or
// "? " on), or s itself.
func lastSentence(s string) string {
	s = strings.TrimRight(s, " \t\n")
	i := max(strings.LastIndex(s, ". "), strings.LastIndex(s, "! "), strings.LastIndex(s, "? "), strings.LastIndex(s, "\n"))
	if i < 0 {
		return s
	}
	return strings.TrimLeft(s[i+1:], " \n")
}

// fewshot picks demonstrations from the pool: the examples the incumbent
// fails first (they show the format it gets wrong), then the others, in pool
// order, up to MaxDemos. Data.Candidate rotates the start so K parallel
// candidates pick different sets. It never writes a demonstration itself:
// it can only name pool IDs.
func fewshot(d optimize.Data, p plan) any {
	n := d.MaxDemos
	if n <= 0 {
		n = 4
	}
	var failed, rest []optimize.PoolExample
	for _, e := range d.Pool {
		if e.Failed {
			failed = append(failed, e)
		} else if !e.Current {
			rest = append(rest, e)
		}
	}
	order := append(failed, rest...)
	if len(order) > 0 {
		k := max(d.Candidate, 0) % len(order)
		order = append(order[k:], order[:k]...)
	}
	ids := []string{}
	for _, e := range order {
		if len(ids) == n {
			break
		}
		ids = append(ids, e.ID)
	}
	why := fmt.Sprintf("Diagnosed %d failures. Picked %d demonstrations (%d the incumbent fails) so the model sees the exact output format instead of being told about it.",
		p.diag.n, len(ids), min(len(failed), len(ids)))
	return optimize.Proposal{Demos: ids, Reasoning: why}
}

// inHistory reports whether (system, output) was already proposed.
func inHistory(d optimize.Data, system, output string) bool {
	for _, e := range d.History {
		if normalize(e.SystemPrompt) == normalize(system) && normalize(e.OutputPrompt) == normalize(output) {
			return true
		}
	}
	return false
}

// appendSentence adds s to prompt as a new sentence.
func appendSentence(prompt, s string) string {
	prompt = strings.TrimRight(prompt, " \t\n")
	switch {
	case prompt == "":
		return s
	case strings.ContainsAny(prompt[len(prompt)-1:], ".!?:;"):
		return prompt + " " + s
	}
	return prompt + ". " + s
}

// reasoning explains the plan: what was seen (with counts), what was added,
// what is left, and what formatting cannot fix. added is parallel to p.fix.
func (p plan) reasoning(added []string) string {
	dg := p.diag
	if dg.n == 0 {
		return "No failures to learn from; the prompts are returned unchanged."
	}
	var seen []string
	ranked := append(append(append([]Habit(nil), p.fix...), p.later...), p.already...)
	for _, h := range ranked {
		seen = append(seen, p.describe(h))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Diagnosed %d failures.", dg.n)
	if len(seen) > 0 {
		b.WriteString(" " + capitalize(strings.Join(seen, "; ")) + ".")
	}
	if len(added) > 0 {
		parts := make([]string, len(added))
		for i, s := range added {
			parts[i] = fmt.Sprintf("%q (%s)", s, p.fix[i])
		}
		b.WriteString(" Added to the output prompt: " + strings.Join(parts, ", ") + ".")
	}
	if len(p.later) > 0 {
		b.WriteString(" Left for a later round: " + p.list(p.later) + ".")
	}
	if len(p.already) > 0 {
		b.WriteString(" Already instructed against but still seen (sampling variation or an instruction the model ignores): " + p.list(p.already) + ".")
	}
	if dg.content > 0 {
		fmt.Fprintf(&b, " %d of %d failures have wrong content, which no formatting instruction can fix.", dg.content, dg.n)
	}
	if len(added) == 0 {
		b.WriteString(" No fixable formatting habit found; the prompts are returned unchanged.")
	}
	return b.String()
}

func (p plan) list(hs []Habit) string {
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = fmt.Sprintf("%s (%d of %d)", h, p.diag.counts[h], p.diag.n)
	}
	return strings.Join(parts, ", ")
}

// describe names one habit with its count and, where it helps, a sample of
// the model's own wrapping text (never the expected answer).
func (p plan) describe(h Habit) string {
	dg := p.diag
	c := fmt.Sprintf("%d of %d failures", dg.counts[h], dg.n)
	switch h {
	case Preamble:
		if dg.preamble != "" {
			return fmt.Sprintf("%s start with a preamble like %q", c, clip(dg.preamble, 60))
		}
		return c + " start with a preamble"
	case Quotes:
		return c + " wrap the answer in quotes"
	case Explanation:
		if dg.explanation != "" {
			return fmt.Sprintf("%s add a trailing explanation like %q", c, clip(dg.explanation, 60))
		}
		return c + " add a trailing explanation"
	}
	return c + " use a different capitalization than expected"
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
