package intent

import (
	"strings"
	"unicode"
)

// kind is what a token is.
type kind int

const (
	word     kind = iota // a lower-cased word ("don't", "json", "sign")
	quoted               // a quoted span; habits holds what its text names
	symbol               // "**", "```" or "brace" ({ } [ ])
	boundary             // a clause boundary: . ! ? ; : ( ) dash, line break
	comma                // a comma
	slash                // a slash, as in "positive / negative"
)

// token is one unit of a prompt.
type token struct {
	kind kind
	// text is the lower-cased word, the quoted text (original case), the
	// symbol, or the punctuation character.
	text string
	// habits is, for a quoted span, the habits whose text it quotes.
	habits Set
}

// sentenceEnd reports whether t ends a sentence (label context is read per
// sentence; clauses end at any boundary).
func (t token) sentenceEnd() bool {
	return t.kind == boundary && strings.ContainsAny(t.text, ".!?\n")
}

// maxQuote is the longest span read as a quotation; a stray apostrophe
// further away is not the end of one.
const maxQuote = 120

// tokenize splits a prompt into tokens. Quoted spans are found first, on
// the original text, so that what a prompt quotes ("'Let me know if you
// need anything else.'") is read as an example of output, not as words of
// the instruction. Hyphenated words are split ("sign-off" is "sign off").
func tokenize(s string) []token {
	s = strings.NewReplacer("\u2019", "'", "\u2018", "'", "\u201c", `"`, "\u201d", `"`, "\r", "").Replace(s)
	rs := []rune(s)
	var out []token
	isWord := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
	at := func(i int) rune {
		if i < 0 || i >= len(rs) {
			return ' '
		}
		return rs[i]
	}
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case r == '`' && at(i+1) == '`' && at(i+2) == '`':
			j := i
			for j < len(rs) && rs[j] == '`' {
				j++
			}
			out = append(out, token{kind: symbol, text: "```"})
			i = j
		case r == '*':
			j := i
			for j < len(rs) && rs[j] == '*' {
				j++
			}
			// Asterisks touching a word are the prompt's own emphasis
			// ("answer *only* with", "**No** bold"); standing alone ("no
			// ** around it") they name the habit.
			if !isWord(at(i-1)) && !isWord(at(j)) {
				out = append(out, token{kind: symbol, text: "**"})
			}
			i = j
		case (r == '\'' || r == '"' || r == '`') && !isWord(at(i-1)) && !unicode.IsSpace(at(i+1)):
			end := closingQuote(rs, i)
			if end < 0 {
				if r == '`' {
					out = append(out, token{kind: symbol, text: "```"})
				}
				i++
				continue
			}
			text := string(rs[i+1 : end])
			out = append(out, token{kind: quoted, text: text, habits: classifyQuote(text)})
			i = end + 1
		case isWord(r):
			j := i
			for j < len(rs) && (isWord(rs[j]) || (rs[j] == '\'' && isWord(at(j+1)) && isWord(at(j-1)))) {
				j++
			}
			out = append(out, token{kind: word, text: strings.ToLower(string(rs[i:j]))})
			i = j
		case r == '-' && isWord(at(i-1)) && isWord(at(i+1)):
			i++ // "sign-off": two words
		case r == '{' || r == '}' || r == '[' || r == ']':
			out = append(out, token{kind: symbol, text: "brace"})
			i++
		case r == ',':
			out = append(out, token{kind: comma, text: ","})
			i++
		case r == '/':
			out = append(out, token{kind: slash, text: "/"})
			i++
		case strings.ContainsRune(".!?;:()\n-\u2013\u2014", r):
			out = append(out, token{kind: boundary, text: string(r)})
			i++
		default:
			i++
		}
	}
	return out
}

// closingQuote returns the index of the quote closing the one at open, or
// -1: the same character, not preceded by a space, not followed by a letter
// or digit (so the apostrophe of "don't" inside a quotation is skipped).
func closingQuote(rs []rune, open int) int {
	q := rs[open]
	for j := open + 1; j < len(rs) && j-open <= maxQuote; j++ {
		if rs[j] == '\n' {
			return -1
		}
		if rs[j] != q || unicode.IsSpace(rs[j-1]) {
			continue
		}
		if j+1 < len(rs) && (unicode.IsLetter(rs[j+1]) || unicode.IsDigit(rs[j+1])) {
			continue
		}
		return j
	}
	return -1
}

// classifyQuote returns the habits whose text a quoted span reproduces:
// "Sure!" is a preamble, "Answer:" a field label, "Hope this helps" a
// sign-off, "**" bold, "```" a fence, a lone quote mark the quotes habit, a
// lone period the trailing period. A span naming no habit ('positive',
// 'good') yields the empty set: it is an example of content, not of a habit.
func classifyQuote(text string) Set {
	t := strings.TrimSpace(text)
	switch {
	case t == "":
		return 0
	case strings.Contains(t, "```"):
		return Of(CodeFence)
	case strings.Contains(t, "**"):
		return Of(Bold)
	case t == `"` || t == "'" || t == `""` || t == "''":
		return Of(Quotes)
	case t == ".":
		return Of(TrailingPeriod)
	}
	// The longest marker found names the habit: "Happy to help" is a
	// sign-off, though "happy to" also opens preambles.
	words := lowerWords(t)
	var s Set
	longest := 0
	for _, spec := range Table {
		for _, m := range spec.Markers {
			seq := strings.Fields(m)
			if !containsSeq(words, seq) || len(seq) < longest {
				continue
			}
			if len(seq) > longest {
				longest, s = len(seq), 0
			}
			s |= Of(spec.Habit)
		}
	}
	if s == 0 && strings.HasSuffix(t, ":") && len(words) >= 1 && len(words) <= 2 {
		s = Of(AnswerLabel) // "Answer:", "Final answer:", "Label:"
	}
	if head, _, ok := strings.Cut(t, ": "); s == 0 && ok && len(lowerWords(head)) <= 2 && len(lowerWords(head)) >= 1 {
		s = Of(AnswerLabel) // "Answer: Paris"
	}
	if s == 0 && len(t) > 2 && (t[0] == '"' && t[len(t)-1] == '"') {
		s = Of(Quotes) // '"Bonjour"'
	}
	if s == 0 && strings.HasSuffix(t, ":") && len(words) > 2 {
		s = Of(Preamble) // "The translation of your sentence is:"
	}
	return s
}

// lowerWords splits text into lower-case words, dropping punctuation.
func lowerWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
}

// containsSeq reports whether seq occurs in words as consecutive elements.
func containsSeq(words, seq []string) bool {
	if len(seq) == 0 {
		return false
	}
	for i := 0; i+len(seq) <= len(words); i++ {
		ok := true
		for k, w := range seq {
			if words[i+k] != w {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
