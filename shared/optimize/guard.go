package optimize

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/promptml/promptml/shared/template"
)

// GuardConfig configures the checks a candidate must pass before it is
// scored (config optimizer.guards).
type GuardConfig struct {
	MinChars, MaxChars int
	// Leakage turns the val/test answer check on.
	Leakage bool
	// MinWords: ground truths with fewer words are not checked.
	MinWords int
	// NGram is the word n-gram size of the overlap check.
	NGram int
	// MaxOverlap is the share of a ground truth's n-grams a candidate may
	// contain.
	MaxOverlap float64
	// Variables are the dataset's variables (dataset Manifest.Variables):
	// a candidate may introduce a {{name}} placeholder only for one of
	// them. Nil skips that check.
	Variables []string
}

// Guard checks candidates against the incumbent and the held-out answers.
type Guard struct {
	cfg    GuardConfig
	truths []truth
}

type truth struct {
	text   string
	words  []string
	ngrams map[string]bool
}

// NewGuard builds a guard whose leakage check looks for heldOut, the
// validation and test ground truths.
func NewGuard(cfg GuardConfig, heldOut []string) *Guard {
	g := &Guard{cfg: cfg}
	if !cfg.Leakage {
		return g
	}
	n := max(cfg.NGram, 1)
	seen := map[string]bool{}
	for _, t := range heldOut {
		w := words(t)
		key := strings.Join(w, " ")
		if len(w) < max(cfg.MinWords, 1) || seen[key] {
			continue
		}
		seen[key] = true
		g.truths = append(g.truths, truth{text: t, words: w, ngrams: ngrams(w, n)})
	}
	return g
}

// Placeholders returns the distinct {{name}} placeholders of s, in order
// (shared/template's grammar: an escaped \{{ is not one).
func Placeholders(s string) []string { return template.Names(s) }

// Check returns why candidate c may not be scored, or "" if it may.
// curSystem and curOutput are the incumbent the candidate was proposed
// from: its placeholders must survive, and only injection phrasings and
// held-out answers the candidate adds to it count.
func (g *Guard) Check(curSystem, curOutput string, c Candidate) string {
	text := c.System + "\n" + c.Output
	// Placeholders are read from each prompt alone: an escape or a name
	// cannot straddle the join.
	had := append(Placeholders(curSystem), Placeholders(curOutput)...)
	has := append(Placeholders(c.System), Placeholders(c.Output)...)
	for _, name := range had {
		if !slices.Contains(has, name) {
			return fmt.Sprintf("placeholder {{%s}} of the current prompt is missing: every variable the current prompts use must stay", name)
		}
	}
	if g.cfg.Variables != nil {
		for _, name := range has {
			if !slices.Contains(had, name) && !slices.Contains(g.cfg.Variables, name) {
				return fmt.Sprintf("placeholder {{%s}} is not a variable of the dataset (its variables: %s)", name, variableList(g.cfg.Variables))
			}
		}
	}
	size := utf8.RuneCountInString(text) - 1
	for _, d := range c.Examples {
		size += utf8.RuneCountInString(d.Input) + utf8.RuneCountInString(d.Output)
	}
	if len(strings.TrimSpace(c.System+c.Output)) < g.cfg.MinChars {
		return fmt.Sprintf("prompts shorter than %d characters", g.cfg.MinChars)
	}
	if g.cfg.MaxChars > 0 && size > g.cfg.MaxChars {
		return fmt.Sprintf("prompts are %d characters long, over the limit of %d", size, g.cfg.MaxChars)
	}
	if LooksLikeInjection(text) && !LooksLikeInjection(curSystem+"\n"+curOutput) {
		return "the prompts gained a prompt-injection phrasing (e.g. \"ignore previous instructions\")"
	}
	// A held-out answer the incumbent already holds (written into the
	// initial prompt by its author) is not the candidate's doing: blocking
	// every candidate for it would stall the run and remove nothing.
	if r := g.leak(text, curSystem+"\n"+curOutput, true); r != "" {
		return r
	}
	for i, d := range c.Examples {
		// Demonstrations are training rows by construction; only a
		// held-out answer copied whole into one is leakage (a duplicate
		// row across splits), not n-gram overlap between similar rows.
		if r := g.leak(d.Input+"\n"+d.Output, "", false); r != "" {
			return fmt.Sprintf("demonstration %d: %s", i+1, r)
		}
	}
	return ""
}

// variableList names the variables for a message, the first few only.
func variableList(vs []string) string {
	const maxNames = 10
	if len(vs) == 0 {
		return "none"
	}
	out := strings.Join(vs[:min(len(vs), maxNames)], ", ")
	if len(vs) > maxNames {
		out += fmt.Sprintf(", … (%d in all)", len(vs))
	}
	return out
}

// leak finds a held-out ground truth in text: contained whole (as a word
// sequence), or, with overlap, sharing more than MaxOverlap of its n-grams.
// A ground truth that cur leaks the same way is skipped.
func (g *Guard) leak(text, cur string, overlap bool) string {
	if len(g.truths) == 0 {
		return ""
	}
	n := max(g.cfg.NGram, 1)
	in, before := newBag(text, n), newBag(cur, n)
	for _, t := range g.truths {
		if in.contains(t) && !before.contains(t) {
			return fmt.Sprintf("leakage: contains the held-out answer %q", clip(t.text, 80))
		}
		if !overlap || len(t.ngrams) == 0 {
			continue
		}
		if share := in.share(t); share > g.cfg.MaxOverlap && before.share(t) <= g.cfg.MaxOverlap {
			return fmt.Sprintf("leakage: shares %.0f%% of the %d-word sequences of the held-out answer %q (limit %.0f%%)",
				100*share, g.cfg.NGram, clip(t.text, 80), 100*g.cfg.MaxOverlap)
		}
	}
	return ""
}

// bag is a text's words, for the leakage check; its n-grams are built on
// first use.
type bag struct {
	joined string
	words  []string
	n      int
	grams  map[string]bool
}

func newBag(text string, n int) *bag {
	w := words(text)
	return &bag{joined: " " + strings.Join(w, " ") + " ", words: w, n: n}
}

// contains reports whether t's words occur in the text in a row.
func (b *bag) contains(t truth) bool {
	return len(b.words) > 0 && strings.Contains(b.joined, " "+strings.Join(t.words, " ")+" ")
}

// share is the share of t's n-grams found in the text.
func (b *bag) share(t truth) float64 {
	if len(t.ngrams) == 0 || len(b.words) == 0 {
		return 0
	}
	if b.grams == nil {
		b.grams = ngrams(b.words, b.n)
	}
	hit := 0
	for ng := range t.ngrams {
		if b.grams[ng] {
			hit++
		}
	}
	return float64(hit) / float64(len(t.ngrams))
}

// words lowercases s and splits it into words of letters, digits and
// apostrophes.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' && r != '’'
	})
}

func ngrams(w []string, n int) map[string]bool {
	out := map[string]bool{}
	for i := 0; i+n <= len(w); i++ {
		out[strings.Join(w[i:i+n], " ")] = true
	}
	return out
}
