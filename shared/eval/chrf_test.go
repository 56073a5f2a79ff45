package eval

import (
	"math"
	"testing"
)

// fBeta is F-beta of precision p and recall r.
func fBeta(p, r, beta float64) float64 {
	b2 := beta * beta
	return (1 + b2) * p * r / (b2*p + r)
}

// Expected values are derived by hand from sacreBLEU 2.x's CHRF defaults
// (metrics/chrf.py _compute_f_score): character n-grams of orders 1..6 over
// the text with whitespace removed; per order precision = matches/hyp
// n-grams and recall = matches/ref n-grams; both averaged over the orders
// where hypothesis and reference both have n-grams; F-beta (β=2) of the two
// averages: F = 5PR / (4P + R).
func TestCHRFSentence(t *testing.T) {
	runScoreCases(t, "chrf", 1e-6, []scoreCase{
		{
			// abc / abd: order 1 a b c vs a b d → 2 matches, P = R = 2/3;
			// order 2 ab bc vs ab bd → 1, P = R = 1/2; order 3 abc vs abd
			// → 0, P = R = 0 (still counted: both sides have a 3-gram);
			// orders 4–6 have no n-grams and are skipped.
			// avgP = avgR = (2/3 + 1/2 + 0)/3 = 7/18; F = 7/18 ≈ 0.3889.
			name: "one char differs", prediction: "abc", reference: "abd", want: 7.0 / 18,
		},
		{
			// "a b" / "ab c": whitespace removed → ab / abc.
			// order 1: a b vs a b c → P 1, R 2/3; order 2: ab vs ab bc →
			// P 1, R 1/2; order 3: the hypothesis has none → skipped.
			// avgP = 1, avgR = 7/12; F = 5·(7/12)/(4 + 7/12) = 7/11.
			name: "whitespace removed and recall weighted", prediction: "a b", reference: "ab c", want: 7.0 / 11,
		},
		{
			// abcd / ab: order 1 P 2/4 R 2/2; order 2 P 1/3 R 1/1; orders
			// 3–4: the reference has none, so sacreBLEU zeroes the
			// hypothesis count and skips them.
			// avgP = (1/2 + 1/3)/2 = 5/12, avgR = 1; F = 5·(5/12)/(20/12 + 1) = 25/32.
			name: "hypothesis longer than reference", prediction: "abcd", reference: "ab", want: 25.0 / 32,
		},
		{
			// Unicode counts code points, not bytes: café / cafe.
			// orders 1–4: 3/4, 2/3, 1/2, 0/1 on both sides.
			// avgP = avgR = (3/4 + 2/3 + 1/2 + 0)/4 = 23/48.
			name: "unicode code points", prediction: "café", reference: "cafe", want: 23.0 / 48,
		},
		{
			// beta 1: same counts as "a b"/"ab c": F1 of 1 and 7/12 = 14/19.
			name: "beta option", options: map[string]any{"beta": 1}, prediction: "a b", reference: "ab c", want: fBeta(1, 7.0/12, 1),
		},
		{
			// whitespace kept: "a b" / "ab": order 1 a,' ',b vs a,b → P 2/3 R 1;
			// order 2 "a ","  b" vs ab → 0/2, 0/1; order 3 "a b" vs none → skipped.
			// avgP = (2/3 + 0)/2 = 1/3, avgR = (1 + 0)/2 = 1/2.
			name: "whitespace option", options: map[string]any{"whitespace": true}, prediction: "a b", reference: "ab", want: fBeta(1.0/3, 1.0/2, 2),
		},
		{name: "identical", prediction: "Niemand hat die Absicht, eine Mauer zu errichten", reference: "Niemand hat die Absicht, eine Mauer zu errichten", want: 1},
		{name: "case sensitive", prediction: "ABC", reference: "abc", want: 0},
		{name: "lowercase option", options: map[string]any{"lowercase": true}, prediction: "ABC", reference: "abc", want: 1},
		// No effective order at all: 0, as sacreBLEU.
		{name: "empty prediction", prediction: "", reference: "abc", want: 0},
		{name: "both empty", prediction: "", reference: "", want: 0},
		{name: "whitespace only", prediction: "  \n", reference: "abc", want: 0},
		// sacreBLEU test_chrf.py, sentence level, default β=2 with
		// eps_smoothing (published 39.14078509, 31.22557079, 57.15704367).
		{
			name: "published czech 1", options: map[string]any{"eps_smoothing": true},
			prediction: "Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.",
			reference:  "Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.",
			want:       0.3914078509,
		},
		{
			name: "published czech 2", options: map[string]any{"eps_smoothing": true},
			prediction: "Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.",
			reference:  "A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.",
			want:       0.3122557079,
		},
		{
			name: "published czech 3", options: map[string]any{"eps_smoothing": true},
			prediction: "Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.",
			reference:  "Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.",
			want:       0.5715704367,
		},
		// sacreBLEU test_chrf.py cases with β=3.
		{name: "published eps a/a", options: map[string]any{"beta": 3, "eps_smoothing": true}, prediction: "a", reference: "a", want: 0.166667},
		{name: "published eps aa/ab", options: map[string]any{"beta": 3, "eps_smoothing": true}, prediction: "aa", reference: "ab", want: 0.083333},
		{name: "published eps a b c/abc", options: map[string]any{"beta": 3, "eps_smoothing": true}, prediction: "a b c", reference: "abc", want: 0.5},
		{
			name: "published eps risk assessment", options: map[string]any{"beta": 3, "eps_smoothing": true},
			prediction: " risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .",
			reference:  "risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .",
			want:       0.63361730,
		},
		{
			name: "published eps obama", options: map[string]any{"beta": 3, "eps_smoothing": true},
			prediction: " Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. ",
			reference:  "Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.",
			want:       0.641302698,
		},
		{name: "published effective a/a", options: map[string]any{"beta": 3}, prediction: "a", reference: "a", want: 1},
		{name: "published effective aa/ab", options: map[string]any{"beta": 3}, prediction: "aa", reference: "ab", want: 0.25},
		{name: "published effective a b c/abc", options: map[string]any{"beta": 3}, prediction: "a b c", reference: "abc", want: 1},
		{name: "published effective empty", options: map[string]any{"beta": 3}, prediction: "", reference: "reference", want: 0},
		{
			name: "published keep whitespace", options: map[string]any{"beta": 3, "whitespace": true},
			prediction: "Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich.",
			reference:  "Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.",
			want:       0.673481606,
		},
	})
}

func TestCHRFPlusPlusWords(t *testing.T) {
	// chrF++ (word_order 2) on "ab c." / "ab c": characters are abc. vs abc.
	// Char orders 1–3 (P, R): 3/4,1 · 2/3,1 · 1/2,1; order 4 skipped (no
	// reference 4-gram). Words: "c." splits to c and . → [ab c .] vs [ab c]:
	// unigrams P 2/3 R 1; bigrams "ab c","c ." vs "ab c": P 1/2 R 1.
	// avgP = (3/4 + 2/3 + 1/2 + 2/3 + 1/2)/5 = 37/60, avgR = 1.
	runScoreCases(t, "chrf", 1e-9, []scoreCase{
		{name: "chrF++", options: map[string]any{"word_order": 2}, prediction: "ab c.", reference: "ab c", want: fBeta(37.0/60, 1, 2)},
	})
	got := chrfWords("(hi) x, .")
	want := []string{"(hi", ")", "x", ",", "."}
	if len(got) != len(want) {
		t.Fatalf("chrfWords = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("chrfWords = %q, want %q", got, want)
		}
	}
}

func TestCHRFCorpus(t *testing.T) {
	m, err := Build([]Spec{{Name: "chrf"}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		preds []string
		refs  []string
		want  float64
	}{
		{
			// Statistics [hyp, ref, match] per order, summed:
			//            order 1   order 2   order 3
			// abc/abd    3,3,2     2,2,1     1,1,0
			// a b/ab c   2,3,2     1,2,1     0,1,0
			// abcd/ab    4,2,2     3,1,1     0,0,0  (hyp zeroed: no ref 3-gram)
			// sum        9,8,6     6,5,3     1,2,0
			// avgP = (6/9 + 3/6 + 0)/3 = 7/18; avgR = (6/8 + 3/5 + 0)/3 = 9/20
			// F = 5·(7/18)(9/20) / (4·7/18 + 9/20) = 1260/2888 ≈ 0.4363.
			name:  "three segments",
			preds: []string{"abc", "a b", "abcd"},
			refs:  []string{"abd", "ab c", "ab"},
			want:  fBeta(7.0/18, 9.0/20, 2),
		},
		{
			// The hypothesis-count zeroing matters in a corpus:
			// abcd/ab gives order 3 [0,0,0] (not [2,0,0]) and abc/abc [1,1,1],
			// so order 3 has P = R = 1; orders 1–2: [4+3, 2+3, 2+3] and
			// [3+2, 1+2, 1+2] → P 5/7, 3/5; R 1, 1.
			// avgP = (5/7 + 3/5 + 1)/3 = 81/105, avgR = 1.
			name:  "zeroed hypothesis counts",
			preds: []string{"abcd", "abc"},
			refs:  []string{"ab", "abc"},
			want:  fBeta(81.0/105, 1, 2),
		},
		{name: "no segments", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := Corpus(m, tt.preds, tt.refs)
			if err != nil || !ok {
				t.Fatalf("Corpus = %v, %v, %v", got, ok, err)
			}
			if math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("Corpus = %.9f, want %.9f", got, tt.want)
			}
		})
	}
	// sacreBLEU test_chrf.py: corpus ["a","b"] / ["a","c"] with β=3 is 50.0
	// (effective order) and 8.3333 (eps smoothing).
	for _, c := range []struct {
		eps  bool
		want float64
	}{{false, 0.5}, {true, 0.083333}} {
		m, err := Build([]Spec{{Name: "chrf", Options: map[string]any{"beta": 3, "eps_smoothing": c.eps}}}, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := Corpus(m, []string{"a", "b"}, []string{"a", "c"})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-c.want) > 1e-6 {
			t.Errorf("published corpus (eps=%v) = %.6f, want %.6f", c.eps, got, c.want)
		}
	}
}
