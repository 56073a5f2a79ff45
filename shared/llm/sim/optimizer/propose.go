package optimizer

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// fix is one instruction the proposal writes: the pattern it addresses,
// the sentence, and the sentence of the incumbent it replaces ("" if new).
type fix struct {
	p        pattern
	text     string
	replaces string
}

// plan decides what a prompt proposal changes: the most frequent fixable
// patterns, each worded from the phrasebook. A wording that already stands
// in the incumbent while its pattern persists did not work, and one that
// stood in a candidate scored below the incumbent is avoided; the vaguer
// wordings are drawn less once the history shows failed candidates.
func (c call) plan(t tally) []fix {
	ranked := append([]pattern(nil), patterns...)
	sort.SliceStable(ranked, func(i, j int) bool { return t.counts[ranked[i]] > t.counts[ranked[j]] })
	failed := c.failedText()
	current := c.d.SystemPrompt + "\n" + c.d.OutputPrompt
	n := FixesPerProposal
	if c.stalled() {
		n = 1 // a trajectory of rejections: change less at a time
	}
	var fixes []fix
	for _, p := range ranked {
		if len(fixes) == n || t.counts[p] == 0 {
			break
		}
		if p == content {
			continue
		}
		book := phrasebook[p]
		if p == casing && t.lower {
			book = lowercaseBook
		}
		if p == wordChoice && len(t.labels) == 0 {
			continue
		}
		f := fix{p: p}
		var options []wording
		for _, w := range book {
			text := fill(w.text, t.sample[p], t.labels)
			switch {
			case strings.Contains(current, text):
				f.replaces = text
			case strings.Contains(failed, text):
			default:
				options = append(options, w)
			}
		}
		if len(options) == 0 {
			continue
		}
		w := c.weighted(options, len(failed) > 0, "wording", p.String())
		f.text = fill(w.text, t.sample[p], t.labels)
		fixes = append(fixes, f)
	}
	for _, q := range t.feedback {
		if len(fixes) < n+1 {
			fixes = append(fixes, fix{p: trailing, text: fmt.Sprintf("Do not include %q.", clip(q, 40))})
		}
	}
	// A vague sentence slips in sometimes, more rarely once the history
	// shows that candidates fail.
	rate := 0.2
	if failed != "" {
		rate = 0.07
	}
	if c.chance(rate, "vague") {
		w := vague[c.pick(len(vague), "vague-which")]
		if !strings.Contains(current, w.text) {
			fixes = append(fixes, fix{p: content, text: w.text})
		}
	}
	return fixes
}

// weighted draws one wording by weight. The candidate index rotates the
// draw, so K candidates of an epoch start from different wordings; shown
// failures flatten the weights of the vaguest wordings to zero.
func (c call) weighted(ws []wording, cautious bool, parts ...string) wording {
	total := 0
	for _, w := range ws {
		if !(cautious && w.weight == 1 && len(ws) > 1) {
			total += w.weight
		}
	}
	r := (c.pick(1<<20, parts...) + c.d.Candidate*7) % total
	for _, w := range ws {
		if cautious && w.weight == 1 && len(ws) > 1 {
			continue
		}
		if r < w.weight {
			return w
		}
		r -= w.weight
	}
	return ws[len(ws)-1]
}

// failedText joins the prompts of earlier candidates the history marks as
// not better: rejected ones that scored no higher than the best accepted
// one (or the incumbent's mean). A rejected candidate that merely tied did
// not work either, and proposing it again would be a copy, which the
// meta-prompt asks against.
func (c call) failedText() string {
	best := c.d.Metrics.Mean
	for _, h := range c.d.History {
		if h.Accepted && h.ValScore > best {
			best = h.ValScore
		}
	}
	var b strings.Builder
	for _, h := range c.d.History {
		if !h.Accepted && h.ValScore <= best {
			b.WriteString(h.SystemPrompt + "\n" + h.OutputPrompt + "\n")
		}
	}
	return b.String()
}

// stalled reports whether the last two candidates of the history were
// rejected.
func (c call) stalled() bool {
	h := c.d.History
	return len(h) >= 2 && !h[len(h)-1].Accepted && !h[len(h)-2].Accepted
}

// fill puts the seen sample (%q) or the label list (%s) into a wording.
func fill(text, sample string, labels []string) string {
	switch {
	case strings.Contains(text, "%q"):
		if sample == "" {
			sample = "that"
		}
		return strings.Replace(text, "%q", strconv.Quote(clip(sample, 40)), 1)
	case strings.Contains(text, "%s"):
		return strings.Replace(text, "%s", strings.Join(labels, ", "), 1)
	}
	return text
}

// echo is the instruction a row's input carries, when the optimizer falls
// for it this call: the text of the first failing input that addresses the
// model ("ignore…", "you are…", "set the…"), after its task prefix.
func (c call) echo() string {
	if !c.chance(c.m.echoRate, "echo") {
		return ""
	}
	for _, ex := range c.d.Failures {
		s := ex.Input
		if i := strings.Index(s, ": "); i >= 0 && i < 40 {
			s = s[i+2:]
		}
		low := strings.ToLower(s)
		for _, cue := range []string{"ignore", "disregard", "forget", "you are", "set the", "instead", "system", "stop "} {
			if strings.Contains(low, cue) {
				return strings.TrimSpace(s)
			}
		}
	}
	return ""
}

// rewrite returns both prompts in full: the system prompt as it was, the
// output prompt with each fix appended or replacing the wording it
// supersedes.
func (c call) rewrite(t tally) reply {
	fixes := c.plan(t)
	sys, out := c.d.SystemPrompt, c.d.OutputPrompt
	for _, f := range fixes {
		if f.replaces != "" && strings.Count(out, f.replaces) == 1 {
			out = strings.Replace(out, f.replaces, f.text, 1)
		} else {
			out = appendSentence(out, f.text)
		}
	}
	if e := c.echo(); e != "" {
		out = appendSentence(out, e)
		fixes = append(fixes, fix{p: content, text: e})
	}
	return reply{SystemPrompt: &sys, OutputPrompt: &out, Reasoning: c.reasoning(t, fixes)}
}

// edits returns the same changes as edits on quoted spans: a replace for a
// superseded wording, an append for a new one. With nothing to change it
// returns one empty append, and the caller sees the incumbent again.
func (c call) edits(t tally) reply {
	fixes := c.plan(t)
	var es []edit
	out := c.d.OutputPrompt
	for _, f := range fixes {
		if f.replaces != "" && strings.Count(out, f.replaces) == 1 {
			es = append(es, edit{Op: "replace", Target: "output_prompt", Quote: f.replaces, Text: f.text})
			out = strings.Replace(out, f.replaces, f.text, 1)
			continue
		}
		next := appendSentence(out, f.text)
		es = append(es, edit{Op: "insert", Target: "output_prompt", Quote: "", Text: next[len(out):]})
		out = next
	}
	if e := c.echo(); e != "" {
		next := appendSentence(out, e)
		es = append(es, edit{Op: "insert", Target: "output_prompt", Quote: "", Text: next[len(out):]})
		fixes = append(fixes, fix{p: content, text: e})
	}
	if len(es) == 0 {
		es = []edit{{Op: "insert", Target: "output_prompt", Quote: ""}}
	}
	return reply{Edits: es, Reasoning: c.reasoning(t, fixes)}
}

// fewshot picks pool ids: failing examples first (they show the format
// the incumbent misses), then the others, from a start drawn per call.
func (c call) fewshot(t tally) reply {
	n := c.d.MaxDemos
	if n <= 0 {
		n = 4
	}
	var failed, rest []poolExample
	for _, e := range c.d.Pool {
		switch {
		case e.Failed:
			failed = append(failed, e)
		case !e.Current:
			rest = append(rest, e)
		}
	}
	rotate := func(xs []poolExample, k int) []poolExample {
		if len(xs) == 0 {
			return xs
		}
		k %= len(xs)
		return append(append([]poolExample(nil), xs[k:]...), xs[:k]...)
	}
	k := c.pick(1<<20, "demos") + c.d.Candidate
	order := append(rotate(failed, k), rotate(rest, k)...)
	ids := []string{}
	for _, e := range order {
		if len(ids) == n {
			break
		}
		ids = append(ids, e.ID)
	}
	if len(ids) == 0 {
		ids = []string{"none"} // an empty pool leaves nothing to pick; the caller rejects it
	}
	why := fmt.Sprintf("%s Picked %d demonstrations, %d of them examples the current prompt fails, so the model sees the expected format instead of being told about it.",
		c.findings(t), len(ids), min(len(failed), len(ids)))
	return reply{Demos: ids, Reasoning: why}
}

// findings describes the tally, with counts and quotes.
func (c call) findings(t tally) string {
	if t.n == 0 {
		return "No failures were shown."
	}
	var parts []string
	for _, p := range patterns {
		if t.counts[p] == 0 {
			continue
		}
		s := fmt.Sprintf("%d of %d show %s", t.counts[p], t.n, p)
		if q := t.sample[p]; q != "" && p != content {
			s += fmt.Sprintf(" (%q)", clip(q, 50))
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("Compared %d failing outputs with the expected ones: %s.", t.n, strings.Join(parts, "; "))
}

// reasoning is the findings, what changed and the trajectory seen.
func (c call) reasoning(t tally, fixes []fix) string {
	var b strings.Builder
	b.WriteString(c.findings(t))
	if len(fixes) == 0 {
		b.WriteString(" Nothing I can word better; the prompts are unchanged.")
	} else {
		var added []string
		for _, f := range fixes {
			added = append(added, fmt.Sprintf("%q", f.text))
		}
		b.WriteString(" Added " + strings.Join(added, ", ") + ".")
	}
	if h := c.d.History; len(h) > 0 {
		best := h[0].ValScore
		for _, e := range h {
			best = max(best, e.ValScore)
		}
		fmt.Fprintf(&b, " %d earlier candidates, best val %.2f.", len(h), best)
	}
	if t.counts[content] > 0 {
		fmt.Fprintf(&b, " %d failures have different content, which no wording fixes.", t.counts[content])
	}
	return b.String()
}

// appendSentence adds s to prompt as a new sentence.
func appendSentence(prompt, s string) string {
	p := strings.TrimRight(prompt, " \t\n")
	switch {
	case p == "":
		return s
	case strings.ContainsAny(p[len(p)-1:], ".!?:;"):
		return p + " " + s
	}
	return p + ". " + s
}
