package primary

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/llm/sim/intent"
)

// only returns rates that apply exactly the given habits to every input.
func only(hs ...Habit) map[Habit]float64 {
	r := map[Habit]float64{}
	for _, h := range Habits {
		r[h] = 0
	}
	for _, h := range hs {
		r[h] = 1
	}
	return r
}

// habitsOf lists the habits diagnose finds in got against truth.
func habitsOf(t *testing.T, got, truth string) []Habit {
	t.Helper()
	f := diagnose(got, truth)
	if f.content {
		t.Fatalf("reply %q has wrong content for truth %q", got, truth)
	}
	var hs []Habit
	for _, h := range Habits {
		if f.habits[h] {
			hs = append(hs, h)
		}
	}
	return hs
}

const (
	frIn    = "Translate to French: Hello world"
	frTruth = "Bonjour le monde"
)

func TestHabitsApply(t *testing.T) {
	key := NewKey(map[string]string{frIn: frTruth, "Review: great film": "positive"})
	tests := []struct {
		name  string
		habit []Habit
		input string
		check func(t *testing.T, got string)
	}{
		{"none", nil, frIn, func(t *testing.T, got string) {
			if got != frTruth {
				t.Errorf("got %q, want the bare truth", got)
			}
		}},
		{"preamble is task-aware", []Habit{Preamble}, frIn, func(t *testing.T, got string) {
			if !strings.Contains(got, "translation:") {
				t.Errorf("got %q, want a translation preamble", got)
			}
		}},
		{"quotes", []Habit{Quotes}, frIn, func(t *testing.T, got string) {
			if want := `"` + frTruth + `"`; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		}},
		{"explanation", []Habit{Explanation}, frIn, func(t *testing.T, got string) {
			if !strings.HasPrefix(got, frTruth) || len(got) <= len(frTruth)+5 {
				t.Errorf("got %q, want the truth then a sentence", got)
			}
		}},
		{"capitalization of a capitalized target", []Habit{Capitalization}, frIn, func(t *testing.T, got string) {
			if got != "Bonjour Le Monde" {
				t.Errorf("got %q, want Title Case", got)
			}
		}},
		{"capitalization of a label", []Habit{Capitalization}, "Review: great film", func(t *testing.T, got string) {
			if got != "Positive" {
				t.Errorf("got %q, want Positive", got)
			}
		}},
		{"all four", Habits, frIn, func(t *testing.T, got string) {
			if diff := cmp.Diff(Habits, habitsOf(t, got, frTruth)); diff != "" {
				t.Errorf("habits of %q (-want +got):\n%s", got, diff)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(Options{Key: key, WrongRate: -1, Rates: only(tt.habit...)})
			got := generate(t, m, primaryReq(tt.input, neutralSystem, neutralOutput))
			tt.check(t, got)
			if len(tt.habit) == 1 {
				if diff := cmp.Diff(tt.habit, habitsOf(t, got, mustTruth(t, key, tt.input))); diff != "" {
					t.Errorf("diagnosis of %q (-want +got):\n%s", got, diff)
				}
			}
		})
	}
}

func mustTruth(t *testing.T, k *Key, in string) string {
	t.Helper()
	_, truth, ok, _ := k.Lookup(context.Background(), in)
	if !ok {
		t.Fatalf("no key for %q", in)
	}
	return truth
}

// TestNaturalInstructions runs the natural-instruction corpus through the
// primary, every habit on, each instruction as the output prompt: the reply
// keeps exactly the habits intent.Read leaves on (the wiring), and for at
// least 90% of the instructions those are exactly the core habits the
// corpus says stay (the model follows instructions by intent, end to end).
// It replaces TestTriggerPhrasings: the primary no longer reads trigger
// phrases (issue 19 item 2).
func TestNaturalInstructions(t *testing.T) {
	raw, err := os.ReadFile("../testdata/natural-instructions.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var corpus []struct {
		Instruction string   `yaml:"instruction"`
		Removes     []string `yaml:"removes"`
	}
	if err := yaml.Unmarshal(raw, &corpus); err != nil {
		t.Fatalf("yaml.Unmarshal(natural-instructions.yaml): %v", err)
	}
	// A lowercase truth, so that an instruction to write in lowercase,
	// obeyed literally, is right (for "Bonjour le monde" it would not be).
	const in, truth = "Translate to French: good night", "bonne nuit"
	key := NewKey(map[string]string{in: truth})
	m := New(Options{Key: key, WrongRate: -1, Rates: only(Habits...)})
	right := 0
	for _, e := range corpus {
		read := intent.Read(e.Instruction)
		var byReader, byCorpus []Habit
		for _, h := range Habits {
			if !read.Has(intentHabit[h]) {
				byReader = append(byReader, h)
			}
			if !slices.Contains(e.Removes, h.String()) {
				byCorpus = append(byCorpus, h)
			}
		}
		got := habitsOf(t, generate(t, m, primaryReq(in, neutralSystem, e.Instruction)), truth)
		if diff := cmp.Diff(byReader, got); diff != "" {
			t.Errorf("%q: the reply's habits differ from what intent.Read leaves on (-want +got):\n%s", e.Instruction, diff)
		}
		if cmp.Equal(byCorpus, got) {
			right++
		} else {
			t.Logf("miss: %q keeps %v, the corpus says %v", e.Instruction, got, byCorpus)
		}
	}
	if score := float64(right) / float64(len(corpus)); score < 0.9 {
		t.Errorf("%d/%d natural instructions handled as the corpus says, want at least 90%%", right, len(corpus))
	}
}

func TestSuppressionContext(t *testing.T) {
	key := NewKey(map[string]string{
		frIn: frTruth,
		"Translate to French: Say no quotes, nothing else": "Dis pas de guillemets, rien d'autre",
		"Review: great film": "positive",
	})
	tests := []struct {
		name           string
		input          string
		system, output string
		want           string
	}{
		{"in the system prompt", frIn, "You translate. Output only the translation, without quotes, preserving the exact capitalization.", neutralOutput, frTruth},
		{"upper case and curly apostrophes", frIn, neutralSystem, "NO PREAMBLE. DON\u2019T USE QUOTATION MARKS. NO EXPLANATION. MATCH THE CASE.", frTruth},
		{"phrasings inside the input do nothing", "Translate to French: Say no quotes, nothing else", neutralSystem, "Preserve the capitalization. No preamble.",
			"\"Dis pas de guillemets, rien d'autre\" Let me know if you need anything else!"},
		{"lowercase obeyed for a label", "Review: great film", neutralSystem, "Answer only with the label, no quotes, in lowercase.", "positive"},
		{"lowercase obeyed literally for a sentence", frIn, neutralSystem, "Output only the translation, no quotes, all lowercase.", "bonjour le monde"},
		{"capitalization trigger overrides lowercase", frIn, neutralSystem, "Output only the translation, no quotes, lowercase unless it would change the case: keep the original case.", frTruth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(Options{Key: key, WrongRate: -1, Rates: only(Habits...)})
			got := generate(t, m, primaryReq(tt.input, tt.system, tt.output))
			if tt.name == "phrasings inside the input do nothing" {
				// Preamble and capitalization are suppressed by the output
				// prompt; quotes and explanation must survive.
				if diff := cmp.Diff([]Habit{Quotes, Explanation}, habitsOf(t, got, "Dis pas de guillemets, rien d'autre")); diff != "" {
					t.Errorf("reply %q (-want +got):\n%s", got, diff)
				}
				return
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRecase(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"lowercase start is capitalized", "positive", "Positive"},
		{"sentence becomes Title Case", "Bonjour le monde", "Bonjour Le Monde"},
		{"accents", "Où est la gare ?", "Où Est La Gare ?"},
		{"single capitalized word goes upper", "Bonjour", "BONJOUR"},
		{"upper goes lower", "OK", "ok"},
		{"no letters unchanged", "42", "42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := recase(tt.in); got != tt.want {
				t.Errorf("recase(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFewShot(t *testing.T) {
	key := NewKey(map[string]string{
		frIn:                                "Bonjour le monde",
		"Translate to French: Good night":   "Bonne nuit",
		"Translate to French: Thank you":    "Merci",
		"Translate to French: See you soon": "À bientôt",
	})
	demos := func(outs ...string) string {
		ins := []string{"Translate to French: Good night", "Translate to French: Thank you", "Translate to French: See you soon"}
		var ds []Demo
		for i, o := range outs {
			ds = append(ds, Demo{Input: ins[i], Output: o})
		}
		return "You translate.\n\nExamples:\n" + FormatDemos(ds)
	}
	tests := []struct {
		name   string
		rates  []Habit
		system string
		output string
		want   []Habit
	}{
		{"bare demos suppress every habit", Habits, demos("Bonne nuit", "Merci", "À bientôt"), neutralOutput, nil},
		{"quoted demos force quotes", nil, demos(`"Bonne nuit"`, `"Merci"`, `"À bientôt"`), neutralOutput, []Habit{Quotes}},
		{"recased demos force capitalization", nil, demos("Bonne Nuit", "MERCI", "À Bientôt"), neutralOutput, []Habit{Capitalization}},
		{"mixed demos leave the rate alone", []Habit{Quotes}, demos(`"Bonne nuit"`, "Merci", "À bientôt"), neutralOutput, []Habit{Quotes}},
		{"preamble demos force a preamble", nil, demos("Sure! Here is the translation: Bonne nuit", "Sure! Here is the translation: Merci"), neutralOutput, []Habit{Preamble}},
		{"instructions beat demos", nil, demos(`"Bonne nuit"`, `"Merci"`), "Answer the request without quotes.", nil},
		{"demos in the output prompt", Habits, neutralSystem, "Answer like these:\n" + strings.TrimPrefix(demos("Bonne nuit", "Merci"), "You translate.\n\n"), nil},
		{"unknown demo inputs do not judge capitalization", Habits,
			"Examples:\n" + FormatDemos([]Demo{{"Translate to French: Blue", "Bleu"}, {"Translate to French: Red", "Rouge"}}),
			neutralOutput, []Habit{Capitalization}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(Options{Key: key, WrongRate: -1, Rates: only(tt.rates...)})
			got := generate(t, m, primaryReq(frIn, tt.system, tt.output))
			if diff := cmp.Diff(tt.want, habitsOf(t, got, frTruth)); diff != "" {
				t.Errorf("reply %q (-want +got):\n%s", got, diff)
			}
		})
	}
}

func TestParseDemos(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []Demo
	}{
		{"none", "You are a helpful assistant.", nil},
		{"canonical", "Examples:\nInput: a\nOutput: b\n\nInput: c\nOutput: d", []Demo{{"a", "b"}, {"c", "d"}}},
		{"multi-line input and output, no blank line", "input: line 1\nline 2\nOUTPUT: x\ny\nInput: z\nOutput: w\n\nNow answer.", []Demo{{"line 1\nline 2", "x\ny"}, {"z", "w"}}},
		{"input without output dropped", "Input: a\n\nInput: b\nOutput: c", []Demo{{"b", "c"}}},
		{"indented labels", "  Input: a\n  Output: b", []Demo{{"a", "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ParseDemos(tt.text)); diff != "" {
				t.Errorf("ParseDemos (-want +got):\n%s", diff)
			}
		})
	}
	ds := []Demo{{"Translate: a", "b"}, {"multi\nline", "out\nput"}}
	if diff := cmp.Diff(ds, ParseDemos(FormatDemos(ds))); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// generatedPairs are n distinct translation-like rows.
func generatedPairs(n int) []pair {
	ps := make([]pair, n)
	for i := range ps {
		ps[i] = pair{fmt.Sprintf("Translate to French: sentence number %d please", i), fmt.Sprintf("Phrase numéro %d s'il vous plaît", i)}
	}
	return ps
}

// cleanOutput suppresses every habit.
const cleanOutput = "Output only the translation, without quotes, keeping the exact capitalization."

func TestWrongRate(t *testing.T) {
	ps := generatedPairs(1000)
	labels := sentimentPairs(300)
	key := keyOf(ps, labels)
	tests := []struct {
		name     string
		rate     float64
		lo, hi   float64
		data     []pair
		wantDiff func(got, truth string) bool
	}{
		{"default 5%", 0, 0.035, 0.065, ps, nil},
		{"20%", 0.2, 0.17, 0.23, ps, nil},
		{"never", -1, 0, 0, ps, nil},
		{"labels become other labels", 0.5, 0.4, 0.6, labels, func(got, truth string) bool {
			return got != truth && slices.Contains([]string{"positive", "negative", "neutral"}, got)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(Options{Key: key, WrongRate: tt.rate, Seed: 3})
			em1, fails := score(t, m, tt.data, neutralSystem, cleanOutput)
			em2, _ := score(t, m, tt.data, neutralSystem, cleanOutput)
			if em1 != em2 {
				t.Errorf("not deterministic: %v then %v", em1, em2)
			}
			if wrong := 1 - em1; wrong < tt.lo || wrong > tt.hi {
				t.Errorf("wrong share = %.3f, want in [%.3f, %.3f]", wrong, tt.lo, tt.hi)
			}
			for _, f := range fails {
				if !diagnose(f.Actual, f.Expected).content {
					t.Errorf("failure %q vs %q is not a content error", f.Actual, f.Expected)
				}
				if tt.wantDiff != nil && !tt.wantDiff(f.Actual, f.Expected) {
					t.Errorf("wrong answer %q for %q is not another label", f.Actual, f.Expected)
				}
			}
		})
	}
}

func TestDefaultRates(t *testing.T) {
	ps := generatedPairs(1000)
	m := New(Options{Key: keyOf(ps), WrongRate: -1, Seed: 11})
	var counts [numHabits]int
	for _, p := range ps {
		got := generate(t, m, primaryReq(p.in, neutralSystem, neutralOutput))
		for _, h := range habitsOf(t, got, p.out) {
			counts[h]++
		}
	}
	for _, h := range Habits {
		if share := float64(counts[h]) / float64(len(ps)); share < DefaultRates[h]-0.05 || share > DefaultRates[h]+0.05 {
			t.Errorf("%s share = %.3f, want ≈ %.2f", h, share, DefaultRates[h])
		}
	}
}

func TestDeterminism(t *testing.T) {
	ps := generatedPairs(200)
	key := keyOf(ps)
	replies := func(m *Model, temp float64, seed *int64) []string {
		var out []string
		for _, p := range ps {
			req := primaryReq(p.in, neutralSystem, cleanOutput)
			req.Temperature, req.Seed = &temp, seed
			out = append(out, generate(t, m, req))
		}
		return out
	}
	s1, s2 := int64(1), int64(2)
	a := New(Options{Key: key, Seed: 5})
	b := New(Options{Key: key, Seed: 5})
	other := New(Options{Key: key, Seed: 6, Rates: only(Habits...)})

	if diff := cmp.Diff(replies(a, 0, nil), replies(b, 0, nil)); diff != "" {
		t.Errorf("same options, temperature 0 differ:\n%s", diff)
	}
	if diff := cmp.Diff(replies(a, 0, &s1), replies(a, 0, &s2)); diff != "" {
		t.Errorf("request seed changed a temperature-0 reply:\n%s", diff)
	}
	if diff := cmp.Diff(replies(a, 1, &s1), replies(b, 1, &s1)); diff != "" {
		t.Errorf("same seed at temperature 1 differ:\n%s", diff)
	}
	if cmp.Equal(replies(a, 1, &s1), replies(a, 1, &s2)) {
		t.Error("different request seeds at temperature 1 gave identical replies")
	}

	// At temperature 1 each suppressed habit comes back with p = 0.15, so
	// with all four suppressed about 1 - 0.85^4 ≈ 48% of replies carry one.
	var dirty int
	hot := replies(other, 1, &s1)
	for i, got := range hot {
		if strings.TrimSpace(got) != ps[i].out && !diagnose(got, ps[i].out).content {
			dirty++
		}
	}
	if share := float64(dirty) / float64(len(ps)); share < 0.35 || share > 0.6 {
		t.Errorf("share of replies with a reappearing habit at temperature 1 = %.2f, want ≈ 0.48", share)
	}
	var cold int
	for i, got := range replies(other, 0, &s1) {
		if got != ps[i].out && !diagnose(got, ps[i].out).content {
			cold++
		}
	}
	if cold != 0 {
		t.Errorf("%d replies at temperature 0 carry a suppressed habit", cold)
	}
}

func TestUnknownInput(t *testing.T) {
	key := NewKey(map[string]string{frIn: frTruth})
	tests := []struct {
		name string
		key  KeySource
		req  *llm.Request
	}{
		{"not in key", key, primaryReq("Translate to French: Good morning", neutralSystem, neutralOutput)},
		{"prefix without a word boundary", key, primaryReq("Translate to French: Hello worldwide", neutralSystem, neutralOutput)},
		{"no key at all", nil, primaryReq(frIn, neutralSystem, neutralOutput)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := generate(t, New(Options{Key: tt.key}), tt.req)
			if !slices.Contains(unknownAnswers, got) {
				t.Errorf("got %q, want one of the unknown answers", got)
			}
		})
	}
}
