package optimizer

import (
	"strings"
	"unicode"
)

// pattern is a difference between an actual and an expected output that
// the optimizer can name. The names are the optimizer's own: it learns them
// from comparing texts, not from how the primary produces them.
type pattern int

const (
	leadIn      pattern = iota // text before the answer (a line or a clause)
	fieldLabel                 // a short "Word:" label before the answer
	quoted                     // the answer inside quote marks
	bold                       // the answer in markdown **bold**
	fenced                     // the reply inside a ``` code fence
	trailing                   // a sentence or a closing line after the answer
	finalPeriod                // a full stop the expected output lacks
	casing                     // the same words in another case
	wordChoice                 // another word where a one-word label is expected
	content                    // different content: no wording fixes it
	numPatterns
)

// patterns in the order ties are broken.
var patterns = []pattern{leadIn, fieldLabel, quoted, bold, fenced, trailing, finalPeriod, casing, wordChoice, content}

// String names a pattern in reasoning.
func (p pattern) String() string {
	return [...]string{"text before the answer", "a label before the answer", "surrounding quotes",
		"markdown bold", "a code fence", "text after the answer", "a trailing period",
		"a different letter case", "a different label word", "wrong content"}[p]
}

// finding is what one comparison shows: the patterns seen and, per pattern,
// the text that shows it, quoted from the actual output.
type finding struct {
	seen   [numPatterns]bool
	sample [numPatterns]string
}

func (f *finding) add(p pattern, sample string) {
	f.seen[p] = true
	if f.sample[p] == "" {
		f.sample[p] = strings.TrimSpace(sample)
	}
}

// quotePairs are the quote marks compared (open, close).
var quotePairs = [][2]string{{`"`, `"`}, {"\u201c", "\u201d"}, {"\u00ab", "\u00bb"}, {"'", "'"}, {"`", "`"}}

// compare reads the patterns off one failure by locating the expected text
// in the actual one and looking at what surrounds it.
func compare(actual, expected string) finding {
	var f finding
	a, e := strings.TrimSpace(actual), strings.TrimSpace(expected)
	if a == e {
		return f
	}
	if strings.HasPrefix(a, "```") {
		first, rest, _ := strings.Cut(a, "\n")
		f.add(fenced, first)
		a = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "```"))
	}
	i, seen := findFold(a, e)
	if e == "" || i < 0 {
		f.shape(a, e)
		return f
	}
	if seen != e {
		f.add(casing, seen)
	}
	f.frame(a[:i], a[i+len(seen):], e)
	return f
}

// frame classifies the text around the located answer.
func (f *finding) frame(pre, suf, expected string) {
	for changed := true; changed; {
		changed = false
		if strings.HasSuffix(pre, "**") && strings.HasPrefix(suf, "**") {
			f.add(bold, "**")
			pre, suf, changed = pre[:len(pre)-2], suf[2:], true
		}
		for _, q := range quotePairs {
			if strings.HasSuffix(pre, q[0]) && strings.HasPrefix(suf, q[1]) {
				f.add(quoted, q[0]+"…"+q[1])
				pre, suf, changed = pre[:len(pre)-len(q[0])], suf[len(q[1]):], true
				break
			}
		}
	}
	if p := strings.TrimSpace(pre); p != "" {
		lines := strings.Split(p, "\n")
		last := strings.TrimSpace(lines[len(lines)-1])
		if len(lines) == 1 && isLabel(last) {
			f.add(fieldLabel, last)
		} else {
			f.add(leadIn, strings.TrimSpace(lines[0]))
		}
	}
	s := strings.TrimSpace(suf)
	switch {
	case s == "":
	case s == "." && !strings.HasSuffix(expected, "."):
		f.add(finalPeriod, ".")
	case strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPunct(r) }) < 0:
		f.add(content, s)
	default:
		first, _, _ := strings.Cut(s, "\n")
		f.add(trailing, first)
	}
}

// shape reads what it can from a reply whose expected text is not in it:
// the wrapping is named, and what is left is a different word (a one-word
// label) or different content.
func (f *finding) shape(a, e string) {
	core := a
	if first, rest, ok := strings.Cut(core, "\n"); ok && strings.HasSuffix(strings.TrimSpace(first), ":") {
		f.add(leadIn, first)
		core = strings.TrimSpace(rest)
	} else if j := strings.Index(core, ": "); j > 0 && isLabel(core[:j+1]) {
		f.add(fieldLabel, core[:j+1])
		core = strings.TrimSpace(core[j+2:])
	}
	if strings.HasPrefix(core, "**") {
		if j := strings.Index(core[2:], "**"); j >= 0 {
			f.add(bold, "**")
			core = core[2:2+j] + core[2+j+2:]
		}
	}
	for _, q := range quotePairs {
		if strings.HasPrefix(core, q[0]) {
			if j := strings.Index(core[len(q[0]):], q[1]); j > 0 {
				f.add(quoted, q[0]+"…"+q[1])
				rest := strings.TrimSpace(core[len(q[0])+j+len(q[1]):])
				core = core[len(q[0]) : len(q[0])+j]
				if rest != "" {
					f.add(trailing, rest)
				}
			}
			break
		}
	}
	if first, rest, ok := strings.Cut(core, "\n"); ok {
		f.add(trailing, strings.TrimSpace(rest))
		core = strings.TrimSpace(first)
	}
	word := strings.TrimRight(strings.TrimSpace(core), ".!")
	if len(strings.Fields(e)) == 1 && len(strings.Fields(word)) == 1 {
		f.add(wordChoice, word)
		return
	}
	f.add(content, clip(a, 60))
}

// isLabel reports whether s is a short "Word:" or "Two words:" label.
func isLabel(s string) bool {
	s = strings.TrimSpace(s)
	if !strings.HasSuffix(s, ":") {
		return false
	}
	w := strings.Fields(strings.TrimSuffix(s, ":"))
	if len(w) == 0 || len(w) > 2 {
		return false
	}
	for _, x := range w {
		for _, r := range x {
			if !unicode.IsLetter(r) {
				return false
			}
		}
	}
	return true
}

// findFold returns the byte offset of the earliest case-insensitive
// occurrence of e in a and the text found there, or -1.
func findFold(a, e string) (int, string) {
	if e == "" {
		return -1, ""
	}
	for i := range a {
		if len(a)-i < len(e) {
			break
		}
		if strings.EqualFold(a[i:i+len(e)], e) {
			return i, a[i : i+len(e)]
		}
	}
	return -1, ""
}

// tally is the comparison of every failure.
type tally struct {
	n      int
	counts [numPatterns]int
	sample [numPatterns]string
	// lower: every expected output the request shows is lowercase.
	lower bool
	// labels are the distinct one-word expected outputs, when every
	// expected output is one word (a label set), in first-seen order.
	labels []string
	// feedback holds quoted spans of evaluator feedback ("remove "X"").
	feedback []string
}

func tallyOf(d data) tally {
	t := tally{n: len(d.Failures), lower: true}
	oneWord := true
	seenLabel := map[string]bool{}
	expect := func(e string) {
		e = strings.TrimSpace(e)
		if e == "" {
			return
		}
		if strings.ToLower(e) != e {
			t.lower = false
		}
		if len(strings.Fields(e)) != 1 {
			oneWord = false
		} else if !seenLabel[e] {
			seenLabel[e] = true
			t.labels = append(t.labels, e)
		}
	}
	for _, ex := range d.Failures {
		expect(ex.Expected)
		f := compare(ex.Actual, ex.Expected)
		for _, p := range patterns {
			if f.seen[p] {
				t.counts[p]++
				if t.sample[p] == "" {
					t.sample[p] = f.sample[p]
				}
			}
		}
		if q := quotedSpan(ex.Feedback); q != "" {
			t.feedback = append(t.feedback, q)
		}
	}
	for _, ex := range d.Passing {
		expect(ex.Expected)
	}
	for _, e := range d.Pool {
		expect(e.Output)
	}
	if !oneWord || len(t.labels) > 12 {
		t.labels = nil
	}
	if len(t.labels) == 0 && len(d.Failures) == 0 {
		t.lower = false
	}
	return t
}

// quotedSpan returns the first "…"-quoted span of s.
func quotedSpan(s string) string {
	i := strings.IndexByte(s, '"')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(s[i+1:], '"')
	if j <= 0 {
		return ""
	}
	return s[i+1 : i+1+j]
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
