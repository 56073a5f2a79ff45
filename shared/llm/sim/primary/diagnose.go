package primary

import (
	"strings"
	"unicode"
)

// finding is what the optimizer (and the few-shot reader) sees in one
// reply: which habits wrap the answer, whether the content itself is wrong,
// and samples of the wrapping text for the reasoning.
type finding struct {
	habits      [numHabits]bool
	content     bool   // the answer differs by more than the habits explain
	preamble    string // the text before the answer, as seen
	explanation string // the text after the answer, as seen
}

// quotePairs are the quote marks the diagnosis strips (open, close).
var quotePairs = [][2]string{{`"`, `"`}, {"\u201c", "\u201d"}, {"\u00ab", "\u00bb"}, {"'", "'"}}

// diagnose compares a reply with the expected answer. It locates the
// expected answer in the reply (ignoring case, earliest occurrence) and reads
// the habits off what surrounds it: a quote pair, text before (preamble),
// text after (explanation), and a case difference (capitalization). When the
// expected answer is nowhere in the reply the content is wrong, and the
// habits are guessed from the reply's shape alone.
func diagnose(actual, expected string) finding {
	a, e := strings.TrimSpace(actual), strings.TrimSpace(expected)
	if a == e {
		return finding{}
	}
	i, seen := findFold(a, e)
	if e == "" || i < 0 {
		f := shape(a)
		f.content = true
		return f
	}
	var f finding
	f.habits[Capitalization] = seen != e
	f.frame(a[:i], a[i+len(seen):])
	return f
}

// frame classifies the text around a located answer.
func (f *finding) frame(pre, suf string) {
	for _, q := range quotePairs {
		if strings.HasSuffix(pre, q[0]) && strings.HasPrefix(suf, q[1]) {
			f.habits[Quotes] = true
			pre, suf = pre[:len(pre)-len(q[0])], suf[len(q[1]):]
			break
		}
	}
	if t := strings.TrimSpace(pre); t != "" {
		f.habits[Preamble] = true
		f.preamble = t
	}
	if t := strings.TrimSpace(suf); t != "" {
		if strings.IndexFunc(t, func(r rune) bool { return !unicode.IsPunct(r) }) < 0 {
			// A stray "." is not a habit the prompts can name; count it as
			// content so the optimizer does not chase it.
			f.content = true
		} else {
			f.habits[Explanation] = true
			f.explanation = t
		}
	}
}

// findFold returns the byte offset of the earliest case-insensitive
// occurrence of e in a and the text found there, or -1.
func findFold(a, e string) (int, string) {
	if e == "" {
		return -1, ""
	}
	for i := range a { // rune starts only
		if len(a)-i < len(e) {
			break
		}
		if strings.EqualFold(a[i:i+len(e)], e) {
			return i, a[i : i+len(e)]
		}
	}
	return -1, ""
}

// openers start a preamble sentence.
var openers = []string{"sure", "certainly", "of course", "here is", "here's", "the answer", "the translation",
	"the sentiment", "the category", "the label", "sentiment", "classification", "summary", "answer", "translation"}

// closers start a trailing explanation.
var closers = []string{"let me know", "i hope", "hope this helps", "feel free", "this is ", "the wording",
	"this covers", "note:", "explanation:"}

// shape guesses the habits of a reply without knowing its answer: a first
// line (or opening clause) ending in ':' is a preamble, a leading quoted span
// is a quoted answer, and a second paragraph or a sentence opening like
// "Let me know" is an explanation.
func shape(reply string) finding {
	var f finding
	s := strings.TrimSpace(reply)
	if nl := strings.IndexByte(s, '\n'); nl >= 0 && strings.HasSuffix(strings.TrimSpace(s[:nl]), ":") {
		f.habits[Preamble], f.preamble = true, strings.TrimSpace(s[:nl])
		s = strings.TrimSpace(s[nl+1:])
	} else if c := strings.Index(s, ": "); c >= 0 && c < 80 && hasPrefixAny(strings.ToLower(s), openers) {
		f.habits[Preamble], f.preamble = true, s[:c+1]
		s = strings.TrimSpace(s[c+2:])
	}
	for _, q := range quotePairs {
		if !strings.HasPrefix(s, q[0]) {
			continue
		}
		if j := strings.Index(s[len(q[0]):], q[1]); j > 0 {
			f.habits[Quotes] = true
			if rest := strings.TrimSpace(s[len(q[0])+j+len(q[1]):]); rest != "" {
				f.habits[Explanation], f.explanation = true, rest
			}
			return f
		}
	}
	if p := strings.Index(s, "\n\n"); p >= 0 {
		f.habits[Explanation], f.explanation = true, strings.TrimSpace(s[p:])
		return f
	}
	low := strings.ToLower(s)
	for _, c := range closers {
		if j := strings.Index(low, c); j > 0 && (low[j-1] == ' ' || low[j-1] == '\n') {
			f.habits[Explanation], f.explanation = true, strings.TrimSpace(s[j:])
			return f
		}
	}
	return f
}

func hasPrefixAny(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
