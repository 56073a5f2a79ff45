package eval

import "testing"

func TestRougeL(t *testing.T) {
	runScoreCases(t, "rouge_l", 1e-12, []scoreCase{
		// LCS "the cat on the mat" = 5 of 6 tokens each side: P = R = F = 5/6.
		{name: "one word differs", prediction: "The cat sat on the mat.", reference: "the cat is on the mat", want: 5.0 / 6},
		// rouge-score's README example: LCS "the quick brown jumps the" = 5
		// of 9 and 8 tokens: P 5/9, R 5/8, F = 50/85 ≈ 0.588 (README: 0.588).
		{name: "rouge-score readme", prediction: "The quick brown fox jumps over the lazy dog", reference: "The quick brown dog jumps on the log.", want: 50.0 / 85},
		{name: "identical", prediction: "a b c", reference: "a b c", want: 1},
		{name: "order matters", prediction: "c b a", reference: "a b c", want: 1.0 / 3},
		// rouge-score returns 0 when either side has no tokens.
		{name: "both empty", prediction: "", reference: "", want: 0},
		{name: "empty prediction", prediction: "", reference: "a", want: 0},
		{name: "punctuation only", prediction: "!!!", reference: "a", want: 0},
		// unicode tokenizer: [東京 tower] vs [東京]: P 1/2, R 1 → 2/3.
		{name: "unicode tokens", prediction: "東京 tower", reference: "東京", want: 2.0 / 3},
		// rouge_score tokenizer drops non-ASCII: [tower] vs [] → 0.
		{name: "rouge_score tokenizer drops non-ascii", options: map[string]any{"tokenizer": "rouge_score"}, prediction: "東京 tower", reference: "東京", want: 0},
		{name: "rouge_score tokenizer splits accents", options: map[string]any{"tokenizer": "rouge_score"}, prediction: "café", reference: "caf", want: 1},
	})
}

func TestTokenF1(t *testing.T) {
	runScoreCases(t, "token_f1", 1e-12, []scoreCase{
		{name: "normalized equal", prediction: "The Eiffel Tower!", reference: "eiffel tower", want: 1},
		// [cat sat] vs [cat]: P 1/2, R 1 → 2/3.
		{name: "articles removed", prediction: "a cat sat", reference: "the cat", want: 2.0 / 3},
		{name: "article inside word kept", prediction: "another", reference: "other", want: 0},
		// multiset: [cat cat] vs [cat]: 1 common, P 1/2, R 1 → 2/3.
		{name: "repeated tokens clipped", prediction: "cat cat", reference: "cat", want: 2.0 / 3},
		{name: "no overlap", prediction: "dog", reference: "cat", want: 0},
		// SQuAD 2.0: both empty after normalization → 1; one empty → 0.
		{name: "both empty", prediction: "", reference: "", want: 1},
		{name: "only articles vs empty", prediction: "the a an", reference: "", want: 1},
		{name: "empty prediction", prediction: "", reference: "cat", want: 0},
		// Unicode words; é is a word character, so "éa" keeps its "a".
		{name: "unicode", prediction: "Ça va très bien", reference: "ça va bien", want: func() float64 { p, r := 3.0/4, 1.0; return 2 * p * r / (p + r) }()},
		{name: "article next to unicode letter", prediction: "éa b", reference: "éa", want: 2.0 / 3},
		// Only ASCII punctuation is removed (string.punctuation): "«" stays.
		{name: "non-ascii punctuation kept", prediction: "«cat»", reference: "cat", want: 0},
	})
}

func TestLevenshtein(t *testing.T) {
	runScoreCases(t, "levenshtein", 1e-12, []scoreCase{
		{name: "kitten sitting", prediction: "kitten", reference: "sitting", want: 1 - 3.0/7},
		{name: "identical", prediction: "abc", reference: "abc", want: 1},
		{name: "both empty", prediction: "", reference: "", want: 1},
		{name: "one empty", prediction: "abc", reference: "", want: 0},
		{name: "code points not bytes", prediction: "café", reference: "cafe", want: 0.75},
		{name: "cjk", prediction: "東京", reference: "京都", want: 0},
		{name: "normalizers", options: map[string]any{"normalizers": []any{"case", "whitespace"}}, prediction: " Hello   World ", reference: "hello world", want: 1},
	})
}
