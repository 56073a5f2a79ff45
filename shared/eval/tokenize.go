package eval

import (
	"regexp"
	"strings"
	"unicode"
)

// This file reproduces sacreBLEU's tokenizers (sacrebleu/tokenizers) so BLEU
// values agree with it. Go's regexp replaces leftmost non-overlapping matches
// like Python's re.sub, so the rules carry over one to one.

// Rules of sacreBLEU's TokenizerRegexp, which tokenizer 13a applies after its
// own language-independent step (mteval-v13a.pl).
var regexpRules = []struct {
	re   *regexp.Regexp
	repl string
}{
	// ASCII punctuation and symbols except ' - . , and the space itself
	// ({-~ [-` space-& (-+ :-@ /).
	{regexp.MustCompile("([\\{-\\~\\[-\\` -\\&\\(-\\+\\:-\\@\\/])"), " ${1} "},
	// period and comma unless preceded by a digit
	{regexp.MustCompile(`([^0-9])([\.,])`), "${1} ${2} "},
	// period and comma unless followed by a digit
	{regexp.MustCompile(`([\.,])([^0-9])`), " ${1} ${2}"},
	// dash when preceded by a digit
	{regexp.MustCompile(`([0-9])(-)`), "${1} ${2} "},
}

// Rules of sacreBLEU's TokenizerV14International ("intl").
var intlRules = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`(\PN)(\pP)`), "${1} ${2} "},
	{regexp.MustCompile(`(\pP)(\PN)`), " ${1} ${2}"},
	{regexp.MustCompile(`(\pS)`), " ${1} "},
}

// tokenize13a is sacreBLEU's Tokenizer13a, returning the tokens.
func tokenize13a(line string) []string {
	line = strings.ReplaceAll(line, "<skipped>", "")
	line = strings.ReplaceAll(line, "-\n", "")
	line = strings.ReplaceAll(line, "\n", " ")
	if strings.Contains(line, "&") {
		line = strings.ReplaceAll(line, "&quot;", `"`)
		line = strings.ReplaceAll(line, "&amp;", "&")
		line = strings.ReplaceAll(line, "&lt;", "<")
		line = strings.ReplaceAll(line, "&gt;", ">")
	}
	line = " " + line + " "
	for _, r := range regexpRules {
		line = r.re.ReplaceAllString(line, r.repl)
	}
	return pyFields(line)
}

// tokenizeIntl is sacreBLEU's TokenizerV14International.
func tokenizeIntl(line string) []string {
	for _, r := range intlRules {
		line = r.re.ReplaceAllString(line, r.repl)
	}
	return pyFields(line)
}

// pyFields splits like Python's str.split(): on Unicode whitespace plus the
// ASCII separators U+001C..U+001F that Python counts as whitespace and Go
// does not.
func pyFields(s string) []string {
	return strings.FieldsFunc(s, isPySpace)
}

func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// pyRstrip is Python's str.rstrip().
func pyRstrip(s string) string {
	return strings.TrimRightFunc(s, isPySpace)
}
