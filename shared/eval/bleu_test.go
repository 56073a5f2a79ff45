package eval

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTokenize13a(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		// Rule 1 splits ASCII punctuation except ' - . , ; rule 2/3 split
		// . and , unless next to a digit on that side.
		{"sentence period", "The cat sat on the mat.", []string{"The", "cat", "sat", "on", "the", "mat", "."}},
		{"comma and exclamation", "Hello, world!", []string{"Hello", ",", "world", "!"}},
		{"apostrophe kept", "don't", []string{"don't"}},
		{"brackets and quotes", `(hi) "there"`, []string{"(", "hi", ")", `"`, "there", `"`}},
		// $ is split (rule 1); the , and . inside 1,000.50 are between
		// digits so they stay; the final . follows a letter so it splits;
		// a - after a digit splits (rule 4), a free-standing - is a token.
		{"numbers", "It costs $1,000.50 - a 5-day trip.", []string{"It", "costs", "$", "1,000.50", "-", "a", "5", "-", "day", "trip", "."}},
		{"period before letter", "e.g. this", []string{"e", ".", "g", ".", "this"}},
		{"comma after digit before letter", "1,a", []string{"1", ",", "a"}},
		{"html entities", "A &amp; B &lt;c&gt; &quot;d&quot;", []string{"A", "&", "B", "<", "c", ">", `"`, "d", `"`}},
		{"skipped and hyphenated newline", "<skipped>re-\nenter\nnow", []string{"reenter", "now"}},
		{"unicode untouched", "Producția, zahăr.", []string{"Producția", ",", "zahăr", "."}},
		{"python whitespace incl. U+001F", "a\x1fb\u00a0c", []string{"a", "b", "c"}},
		{"empty", "", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tokenize13a(tt.in)
			if diff := cmp.Diff(tt.want, got, cmpEmptyNil); diff != "" {
				t.Errorf("tokenize13a(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestTokenizeIntl(t *testing.T) {
	// intl splits Unicode punctuation unless next to a number, and symbols.
	got := tokenizeIntl("«Bonjour», 3,5 € et 10.")
	want := []string{"«", "Bonjour", "»", ",", "3,5", "€", "et", "10."}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tokenizeIntl mismatch (-want +got):\n%s", diff)
	}
}

var cmpEmptyNil = cmp.Comparer(func(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return cmp.Equal(a, b)
})

// geoMean4 is the geometric mean of precisions given as fractions.
func geoMean(ps ...float64) float64 {
	var s float64
	for _, p := range ps {
		s += math.Log(p)
	}
	return math.Exp(s / float64(len(ps)))
}

// Expected values are derived by hand from sacreBLEU's definition
// (metrics/bleu.py compute_bleu): clipped n-gram matches / hypothesis
// n-grams per order; BP = exp(1 - r/c) when c < r; "exp" smoothing gives the
// k-th zero-match order the precision 1/(2^k * total); effective order stops
// the geometric mean at the last order with any hypothesis n-gram.
func TestBLEUSentence(t *testing.T) {
	romanianRef := "produc\u0163ia de zah\u0103r brut se exprim\u0103 \u00een zah\u0103r alb;"
	romanianSys := "Produc\u021bia de zah\u0103r prim\u0103 va fi exprimat\u0103 \u00een ceea ce prive\u0219te zah\u0103rul alb;"
	runScoreCases(t, "bleu", 1e-4, []scoreCase{
		{
			// 13a: The cat sat on the mat . (7) / The cat is on the mat . (7)
			// 1-grams: The cat on the mat .      = 6/7
			// 2-grams: The_cat on_the the_mat mat_. = 4/6
			// 3-grams: on_the_mat the_mat_.        = 2/5
			// 4-grams: on_the_mat_.                = 1/4
			// c = r = 7, BP = 1. BLEU = (6/7 · 4/6 · 2/5 · 1/4)^(1/4) ≈ 0.4889.
			name: "all orders match", prediction: "The cat sat on the mat.", reference: "The cat is on the mat.",
			want: geoMean(6.0/7, 4.0/6, 2.0/5, 1.0/4),
		},
		{
			// 13a splits , and !: Hello , world ! (4) / Hello world (2).
			// 1-grams 2/4; 2-grams 0/3, 3-grams 0/2, 4-grams 0/1, so exp
			// smoothing gives 1/(2·3), 1/(4·2), 1/(8·1). c=4 > r=2, BP=1.
			// BLEU = (1/2 · 1/6 · 1/8 · 1/8)^(1/4) ≈ 0.1900.
			name: "exp smoothing", prediction: "Hello, world!", reference: "Hello world",
			want: geoMean(2.0/4, 1.0/6, 1.0/8, 1.0/8),
		},
		{
			// yes / yes: 1-grams 1/1; no 2-grams, so with effective order
			// the mean stops at order 1: BLEU = 1.
			name: "effective order one word", prediction: "yes", reference: "yes", want: 1,
		},
		{
			// Without effective order the missing orders have precision 0,
			// log(0) is -9999999999 and BLEU is 0.
			name: "no effective order one word", options: map[string]any{"effective_order": false}, prediction: "yes", reference: "yes", want: 0,
		},
		{
			// the cat (2) / the cat sat down (4): 1-grams 2/2, 2-grams 1/1,
			// no 3-grams: effective order 2, precisions 1 and 1.
			// BP = exp(1 - 4/2) = e^-1 ≈ 0.3679.
			name: "brevity penalty", prediction: "the cat", reference: "the cat sat down", want: math.Exp(-1),
		},
		{
			// sacreBLEU's own test (test_sentence_bleu.py, #98): 8.493.
			// 13a: 14 hypothesis and 10 reference tokens (";" split).
			// 1-grams: de zahăr în alb ;          = 5/14
			// 2-grams: de_zahăr alb_;            = 2/13
			// 3-grams 0/12 → 1/(2·12); 4-grams 0/11 → 1/(4·11). BP = 1.
			// BLEU = (5/14 · 2/13 · 1/24 · 1/44)^(1/4) ≈ 0.08493.
			name: "sacrebleu issue 98 exp", prediction: romanianSys, reference: romanianRef,
			want: geoMean(5.0/14, 2.0/13, 1.0/24, 1.0/44),
		},
		{
			// floor 0.1: 3-grams 0.1/12, 4-grams 0.1/11; sacreBLEU: 4.51688.
			name: "sacrebleu issue 98 floor", options: map[string]any{"smooth_method": "floor"}, prediction: romanianSys, reference: romanianRef,
			want: geoMean(5.0/14, 2.0/13, 0.1/12, 0.1/11),
		},
		{
			// add-k 1 adds 1 to matches and totals from order 2 on:
			// 5/14, 3/14, 1/13, 1/12; sacreBLEU: 14.882.
			name: "sacrebleu issue 98 add-k", options: map[string]any{"smooth_method": "add-k"}, prediction: romanianSys, reference: romanianRef,
			want: geoMean(5.0/14, 3.0/14, 1.0/13, 1.0/12),
		},
		{name: "sacrebleu issue 98 published exp", prediction: romanianSys, reference: romanianRef, want: 0.08493},
		{name: "sacrebleu issue 98 published floor", options: map[string]any{"smooth_method": "floor", "smooth_value": 0.1}, prediction: romanianSys, reference: romanianRef, want: 0.0451688},
		{name: "sacrebleu issue 98 published floor 0.5", options: map[string]any{"smooth_method": "floor", "smooth_value": 0.5}, prediction: romanianSys, reference: romanianRef, want: 0.1010},
		{name: "sacrebleu issue 98 published add-k 2", options: map[string]any{"smooth_method": "add-k", "smooth_value": 2}, prediction: romanianSys, reference: romanianRef, want: 0.21389},
		{name: "sacrebleu issue 98 published tok none", options: map[string]any{"tokenize": "none"}, prediction: romanianSys, reference: romanianRef, want: 0.07347},
		{name: "sacrebleu issue 98 published tok intl", options: map[string]any{"tokenize": "intl"}, prediction: romanianSys, reference: romanianRef, want: 0.08493},
		{name: "sacrebleu issue 98 published none", options: map[string]any{"smooth_method": "none"}, prediction: romanianSys, reference: romanianRef, want: 0},
		// sacreBLEU issue #141: no match at all is 0 whatever the smoothing.
		{name: "no match exp", prediction: "this is a cat", reference: "okay thanks", want: 0},
		{name: "no match add-k", options: map[string]any{"smooth_method": "add-k"}, prediction: "this is a cat", reference: "okay thanks", want: 0},
		// sacreBLEU test_bleu.py effective-order cases (tokenize none,
		// floor 0.01): test / a test = e^(1-2/1); a little test / a test:
		// 1-grams 2/3, 2-grams 0.01/2, BP 1 → sqrt(2/3 · 0.005).
		{name: "published effective order short", options: map[string]any{"tokenize": "none", "smooth_method": "floor", "smooth_value": 0.01}, prediction: "test", reference: "a test", want: 0.3678794411714425},
		{name: "published effective order long", options: map[string]any{"tokenize": "none", "smooth_method": "floor", "smooth_value": 0.01}, prediction: "a little test", reference: "a test", want: 0.03218297948685433},
		{name: "published this is a fest", options: map[string]any{"tokenize": "none", "smooth_method": "floor", "smooth_value": 0.01}, prediction: "this is a fest", reference: "this is a test", want: 0.223606797749979},
		{name: "lowercase", options: map[string]any{"lowercase": true}, prediction: "THE CAT", reference: "the cat", want: 1},
		{name: "case sensitive", prediction: "THE CAT", reference: "the cat", want: 0},
		{name: "trailing whitespace stripped", prediction: "the cat \n", reference: "the cat", want: 1},
		// Empty hypothesis: c = 0 so BP = 0 and nothing matches.
		{name: "empty prediction", prediction: "", reference: "the cat", want: 0},
		// sacreBLEU scores an empty pair 0 (no n-gram matched).
		{name: "both empty", prediction: "", reference: "", want: 0},
		{name: "unicode identical", prediction: "東京 は 大きい", reference: "東京 は 大きい", want: 1},
		{name: "max order 2", options: map[string]any{"max_ngram_order": 2}, prediction: "The cat sat on the mat.", reference: "The cat is on the mat.", want: geoMean(6.0/7, 4.0/6)},
	})
}

func TestBLEUComputeScoring(t *testing.T) {
	// sacreBLEU test_bleu.py test_scoring: compute_bleu([9,7,5,3],
	// [10,8,6,4], 11, 11) with no smoothing = 0.8375922397, i.e.
	// (9/10 · 7/8 · 5/6 · 3/4)^(1/4).
	m, err := Build([]Spec{{Name: "bleu", Options: map[string]any{"smooth_method": "none"}}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	b := m.(*bleu)
	got := b.compute(bleuStats{sysLen: 11, refLen: 11, correct: []float64{9, 7, 5, 3}, total: []float64{10, 8, 6, 4}}, false) / 100
	for _, want := range []float64{0.8375922397, geoMean(9.0/10, 7.0/8, 5.0/6, 3.0/4)} {
		if math.Abs(got-want) > 1e-8 {
			t.Errorf("compute = %.10f, want %.10f", got, want)
		}
	}
}

func TestBLEUCorpus(t *testing.T) {
	tests := []struct {
		name  string
		preds []string
		refs  []string
		want  float64
	}{
		{
			// Sums of the sentence statistics above:
			// "The cat sat on the mat." c=7 r=7 matches 6,4,2,1 of 7,6,5,4
			// "the cat"                 c=2 r=4 matches 2,1,0,0 of 2,1,0,0
			// total c=9 r=11 → BP = exp(1 - 11/9) = exp(-2/9) ≈ 0.8007;
			// precisions 8/9, 5/7, 2/5, 1/4; BLEU ≈ 0.8007 · 0.5020 ≈ 0.4020.
			name:  "two segments with brevity penalty",
			preds: []string{"The cat sat on the mat.", "the cat"},
			refs:  []string{"The cat is on the mat.", "the cat sat down"},
			want:  math.Exp(1-11.0/9) * geoMean(8.0/9, 5.0/7, 2.0/5, 1.0/4),
		},
		{
			// "Hello, world!" adds c=4 r=2, matches 2,0,0,0 of 4,3,2,1:
			// c=11 r=9, BP 1, precisions 8/11, 4/9, 2/7, 1/5 (no smoothing
			// needed: every order has a match in the corpus).
			name:  "corpus needs no smoothing",
			preds: []string{"The cat sat on the mat.", "Hello, world!"},
			refs:  []string{"The cat is on the mat.", "Hello world"},
			want:  geoMean(8.0/11, 4.0/9, 2.0/7, 1.0/5),
		},
		{
			// corpus_score has no effective order: "the cat" alone has no
			// 3-grams, so precision 3 is 0 and BLEU is 0, while its
			// sentence score is e^-1.
			name: "no effective order in corpus", preds: []string{"the cat"}, refs: []string{"the cat sat down"}, want: 0,
		},
		{
			// sacreBLEU test_bleu.py: empty hypotheses are kept and give 0.
			name: "empty hypotheses", preds: []string{"", "", ""}, refs: []string{"The dog bit the man.", "It was not unexpected.", "The man bit him first."}, want: 0,
		},
		{name: "no segments", preds: nil, refs: nil, want: 0},
	}
	m, err := Build([]Spec{{Name: "bleu"}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := Corpus(m, tt.preds, tt.refs)
			if err != nil || !ok {
				t.Fatalf("Corpus = %v, %v, %v", got, ok, err)
			}
			if math.Abs(got-tt.want) > 1e-4 {
				t.Errorf("Corpus = %.6f, want %.6f", got, tt.want)
			}
		})
	}
}

func TestCorpusLengthMismatch(t *testing.T) {
	for _, name := range []string{"bleu", "chrf"} {
		m, err := Build([]Spec{{Name: name}}, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := Corpus(m, []string{"a"}, nil); err == nil {
			t.Errorf("%s: Corpus with 1 prediction and 0 references succeeded", name)
		}
	}
}

func TestCorpusUndefined(t *testing.T) {
	m, err := Build([]Spec{{Name: "exact_match"}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := Corpus(m, []string{"a"}, []string{"a"}); ok || err != nil {
		t.Errorf("Corpus(exact_match) ok=%v err=%v, want not defined", ok, err)
	}
}
