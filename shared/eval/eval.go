// Package eval scores a model's answer against the ground truth.
//
// The contract the pipeline relies on (keep these names stable):
//
//   - Spec is one metric as the run config names it;
//   - Build turns a list of Specs into one Metric (a weighted composite when
//     there is more than one) and rejects unknown names or bad options with a
//     message naming the option;
//   - Metric.Score scores one (prediction, reference) pair to a value in [0,1];
//   - Summarize aggregates per-example values of a phase, and
//     SummarizeOutcomes does so while counting examples without a score
//     (errors are not scores) separately;
//   - Corpus gives the corpus-level value of metrics that define one (bleu,
//     chrf);
//   - Threshold gives a metric's pass threshold.
//
// The metrics, their options and the reference implementations they agree
// with are documented in docs/metrics.md. Each metric's file registers it
// (registry.go holds the registry, the option reader and the composite);
// registering also declares the name and its option check to shared/metric,
// which the run config validates against.
package eval

import (
	"context"
	"fmt"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/metric"
)

// Spec names one metric and its options, as written in the run config under
// `metrics:`. It is declared in shared/metric, where the run config reads
// it without importing the metrics.
type Spec = metric.Spec

// Score is the result of scoring one pair.
type Score struct {
	// Value is in [0,1]; 1 is a perfect answer.
	Value float64 `json:"value"`
	// Explanation is an optional short reason (e.g. from an LLM judge).
	Explanation string `json:"explanation,omitempty"`
}

// Metric scores one prediction against one reference.
type Metric interface {
	// Name is the metric's registry name (or "composite").
	Name() string
	// Score returns the score of prediction against reference. An error means
	// the score could not be computed (e.g. the judge failed), never a 0.
	Score(ctx context.Context, prediction, reference string) (Score, error)
}

// Deps are the external services some metrics need. Both may be nil: Build
// still succeeds (so a config can be validated offline) and the metrics that
// need a missing dependency fail at Score time with a clear error.
type Deps struct {
	// Judge is the model llm_judge asks; the request carries
	// Purpose "judge" and a ResponseSchema.
	Judge Generator
	// Embedder embeds texts for semantic_similarity.
	Embedder Embedder
}

// Generator is the one method of an LLM provider llm_judge uses.
type Generator interface {
	Generate(ctx context.Context, req *llm.Request) (*llm.Response, error)
}

// Embedder turns texts into embedding vectors, one per text, in order.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Thresholder is implemented by metrics that define the value at or above
// which an example counts as passed. Every metric Build returns implements
// it; see Threshold.
type Thresholder interface {
	Threshold() float64
}

// Threshold returns m's pass threshold, or 1 when m does not define one.
func Threshold(m Metric) float64 {
	if t, ok := m.(Thresholder); ok {
		return t.Threshold()
	}
	return 1
}

// CorpusMetric is implemented by metrics that define a corpus-level value
// which is not the mean of the sentence values (bleu, chrf).
type CorpusMetric interface {
	Corpus(predictions, references []string) (float64, error)
}

// Corpus returns m's corpus-level value over the pairs; ok is false when m
// defines none (then the mean of the per-example scores is the phase value).
func Corpus(m Metric, predictions, references []string) (value float64, ok bool, err error) {
	c, isCorpus := m.(CorpusMetric)
	if !isCorpus {
		return 0, false, nil
	}
	if len(predictions) != len(references) {
		return 0, true, fmt.Errorf("eval.Corpus: %d predictions but %d references", len(predictions), len(references))
	}
	v, err := c.Corpus(predictions, references)
	if err != nil {
		return 0, true, fmt.Errorf("%s corpus: %w", m.Name(), err)
	}
	return v, true, nil
}
