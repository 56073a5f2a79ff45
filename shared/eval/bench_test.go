package eval

import (
	"context"
	"testing"

	"github.com/promptml/promptml/shared/llm"
)

// About 200 characters each, close but not equal, so every metric does its
// full work.
const (
	benchPrediction = "The Eiffel Tower, completed in 1889 for the World's Fair, stands 330 metres tall on the Champ de Mars in Paris; it was the tallest man-made structure until 1930, and draws about 7 million visitors a year."
	benchReference  = "Completed in 1889 for the Exposition Universelle, the Eiffel Tower is 330 m tall and stands on the Champ de Mars in Paris. It remained the world's tallest structure until 1930 and has ~7 million visitors yearly."
)

type benchJudge struct{}

func (benchJudge) Generate(context.Context, *llm.Request) (*llm.Response, error) {
	return &llm.Response{Text: `{"reasoning":"close","score":8}`}, nil
}

type benchEmbedder struct{}

func (benchEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = letterVector(t)
	}
	return out, nil
}

// BenchmarkMetrics scores one ~200-character pair with every registered
// metric. llm_judge and semantic_similarity use in-memory fakes, so they
// measure our overhead (prompting, parsing, caching), not a model.
func BenchmarkMetrics(b *testing.B) {
	options := map[string]map[string]any{
		"llm_judge":    {"rubric": "Facts agree with the reference."},
		"json_schema":  {"schema": map[string]any{"type": "object"}},
		"regex":        {"pattern": `.*Eiffel.*`},
		"contains_all": {"values": []any{"1889", "330", "Paris"}},
		"contains_any": {"values": []any{"1889", "London"}},
	}
	pairs := map[string][2]string{
		"json_match":  {`{"name":"Eiffel Tower","year":1889,"height_m":330,"city":"Paris","visitors_per_year":7000000,"tallest_until":1930,"site":"Champ de Mars"}`, `{"site":"Champ de Mars","city":"Paris","year":1889,"height_m":330,"name":"Eiffel Tower","visitors_per_year":6900000,"tallest_until":1930}`},
		"json_schema": {`{"name":"Eiffel Tower","year":1889,"height_m":330,"city":"Paris","visitors_per_year":7000000,"tallest_until":1930,"site":"Champ de Mars"}`, ""},
		"numeric":     {benchPrediction, "7 million"},
	}
	deps := Deps{Judge: benchJudge{}, Embedder: benchEmbedder{}}
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			m, err := Build([]Spec{{Name: name, Options: options[name]}}, deps)
			if err != nil {
				b.Fatal(err)
			}
			pred, ref := benchPrediction, benchReference
			if p, ok := pairs[name]; ok {
				pred, ref = p[0], p[1]
			}
			ctx := b.Context()
			for b.Loop() {
				if _, err := m.Score(ctx, pred, ref); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
