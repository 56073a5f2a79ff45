package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/promptml/promptml/shared/blob"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/dataset"
	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/llm"
)

// Estimate is what a run may spend at most: every configured epoch runs,
// every candidate is scored and accepted (so its train phase runs too), and
// both the initial and the best prompt are scored on test. Cache hits are
// not assumed: a run that finds its answers cached spends less.
type Estimate struct {
	Calls        int             `json:"calls"`
	InputTokens  int             `json:"input_tokens"`
	OutputTokens int             `json:"output_tokens"`
	CostUSD      float64         `json:"cost_usd"`
	Phases       []PhaseEstimate `json:"phases"`
}

// PhaseEstimate is one step of the estimate.
type PhaseEstimate struct {
	// Name says what runs, e.g. "baseline train", "epoch 2 optimizer".
	Name string `json:"name"`
	// Split is the split scored ("" for optimizer calls).
	Split string `json:"split,omitempty"`
	// Epoch is 0 for the baseline and the test.
	Epoch        int     `json:"epoch"`
	Calls        int     `json:"calls"`
	InputTokens  int     `json:"input_tokens"`
	OutputTokens int     `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
}

func (e *Estimate) add(pe PhaseEstimate) {
	e.Phases = append(e.Phases, pe)
	e.Calls += pe.Calls
	e.InputTokens += pe.InputTokens
	e.OutputTokens += pe.OutputTokens
	e.CostUSD += pe.CostUSD
}

// SplitStats are a split's size in examples and estimated tokens
// (llm.EstimateTokens of each cell, summed).
type SplitStats struct {
	Examples       int `json:"examples"`
	InputTokens    int `json:"input_tokens"`
	ExpectedTokens int `json:"expected_tokens"`
}

// Estimation constants: the rule of thumb behind the estimate, documented
// in docs/llm.md.
const (
	// answerOverhead is added to the ground truth's length for each answer:
	// an untuned model adds a preamble or an explanation.
	answerOverhead = 20
	// judgeOverhead and judgeOutput size an llm_judge call: its
	// instructions, and a score with a short explanation.
	judgeOverhead = 150
	judgeOutput   = 60
	// optimizerOutput is the reasoning around the proposed prompts.
	optimizerOutput = 200
	// candidateGrowth: a proposed prompt is assumed twice the initial one.
	candidateGrowth = 2
)

// EstimateRun computes the calls, tokens and cost of a run of cfg over a
// dataset with these split statistics, before anything is spent.
// embedding is the instance's embedding model (Pipeline.EmbeddingModel),
// priced when the metrics use semantic_similarity.
func EstimateRun(cfg config.Run, splits map[string]SplitStats, embedding config.Model) Estimate {
	initial := llm.EstimateTokens(cfg.Prompt.System) + llm.EstimateTokens(cfg.Prompt.Output)
	candidate := candidateGrowth*initial + 20
	judged, embedded := false, false
	for _, m := range cfg.Metrics {
		switch m.Name {
		case "llm_judge":
			judged = true
		case "semantic_similarity":
			embedded = true
		}
	}
	emb := cfg.Price(embedding)
	primary, opt := cfg.Price(cfg.Primary), cfg.Price(cfg.Optimizer.Model)
	phase := func(name, split string, epoch, promptTokens, prompts int) PhaseEstimate {
		s := splits[split]
		n := s.Examples * prompts
		out := s.ExpectedTokens + answerOverhead*s.Examples
		if m := cfg.Primary.MaxOutputTokens; m > 0 {
			out = min(out, m*s.Examples)
		}
		pe := PhaseEstimate{Name: name, Split: split, Epoch: epoch, Calls: n,
			InputTokens:  prompts * (s.InputTokens + promptTokens*s.Examples),
			OutputTokens: prompts * out}
		pe.CostUSD = primary.Cost(llm.Usage{InputTokens: pe.InputTokens, OutputTokens: pe.OutputTokens})
		if judged {
			ju := llm.Usage{InputTokens: prompts * (s.InputTokens + s.ExpectedTokens + out + judgeOverhead*s.Examples),
				OutputTokens: judgeOutput * n}
			pe.Calls += n
			pe.InputTokens += ju.InputTokens
			pe.OutputTokens += ju.OutputTokens
			pe.CostUSD += opt.Cost(ju)
		}
		if embedded {
			// An embedding of the answer and one of the ground truth per
			// scored example (an upper bound: the instance embeds each
			// distinct text once).
			eu := llm.Usage{InputTokens: prompts*out + prompts*s.ExpectedTokens}
			pe.Calls += 2 * n
			pe.InputTokens += eu.InputTokens
			pe.CostUSD += emb.Cost(eu)
		}
		return pe
	}
	var e Estimate
	e.add(phase("baseline train", dataset.Train, 0, initial, 1))
	e.add(phase("baseline val", dataset.Val, 0, initial, 1))

	tr := splits[dataset.Train]
	// The strategy's meta-prompt, fewshot pool and demonstrations
	// (estimate_strategy.go); a scored candidate carries its demonstrations.
	se := estimateStrategy(cfg, tr)
	scored := candidate + se.demoTokens
	perFailure := 0
	if tr.Examples > 0 {
		perFailure = (tr.InputTokens+2*tr.ExpectedTokens)/tr.Examples + answerOverhead + 30
	}
	optIn := se.metaTokens + 2*candidate + se.demoTokens + se.poolTokens + min(cfg.Optimizer.MaxFailures, tr.Examples)*perFailure +
		cfg.Optimizer.History*candidate + 100
	optOut := candidate + optimizerOutput
	if m := cfg.Optimizer.Model.MaxOutputTokens; m > 0 {
		optOut = min(optOut, m)
	}
	// Every proposal may take optimizer.max_tries replies.
	asks := cfg.Candidates * max(cfg.Optimizer.MaxTries, 1)
	for ep := 1; ep <= cfg.Epochs; ep++ {
		oe := PhaseEstimate{Name: fmt.Sprintf("epoch %d optimizer", ep), Epoch: ep, Calls: asks,
			InputTokens: asks * optIn, OutputTokens: asks * optOut}
		oe.CostUSD = opt.Cost(llm.Usage{InputTokens: oe.InputTokens, OutputTokens: oe.OutputTokens})
		e.add(oe)
		e.add(phase(fmt.Sprintf("epoch %d candidates val", ep), dataset.Val, ep, scored, cfg.Candidates))
		e.add(phase(fmt.Sprintf("epoch %d accepted train", ep), dataset.Train, ep, scored, 1))
	}
	if splits[dataset.Test].Examples > 0 {
		e.add(phase("test initial", dataset.Test, 0, initial, 1))
		if cfg.Epochs > 0 {
			e.add(phase("test best", dataset.Test, 0, scored, 1))
		}
	}
	return e
}

// DryRun loads a run's config the way a start would (defaults, deployment
// layer, sidecar, request), validates and splits the CSV in memory and
// returns the estimate; nothing is written and no model is called. Bad
// input is an errs.InvalidArgument error.
func (p *Pipeline) DryRun(ctx context.Context, req StartRequest) (*Estimate, error) {
	obj, err := p.datasetObject(ctx, req.Dataset)
	if err != nil {
		return nil, err
	}
	layers, err := p.layers(ctx, obj.Bucket, obj.Name, req.Config)
	var tooLarge *sidecarTooLarge
	if errors.As(err, &tooLarge) {
		return nil, errs.Invalid(fmt.Errorf("%s: %w", tooLarge.name, blob.ErrTooLarge))
	}
	if err != nil {
		return nil, fmt.Errorf("pipeline.DryRun: %w", err)
	}
	return estimateFrom(ctx, layers, obj, obj.URI(), p.cfg.EmbeddingModel, p.cfg.Allowlist)
}

// DryRunCSV is DryRun for a CSV sent to the API (a form upload): the
// config is layered where StartFromCSV would store it, as the sidecar.
// Nothing is written and no model is called.
func (p *Pipeline) DryRunCSV(ctx context.Context, req UploadRequest) (*Estimate, error) {
	layers := []config.Layer{}
	if len(p.cfg.Defaults) > 0 {
		layers = append(layers, config.Layer{Source: "deployment defaults", Data: p.cfg.Defaults})
	}
	if len(req.Config) > 0 {
		layers = append(layers, config.Layer{Source: "config", Data: req.Config})
	}
	return estimateFrom(ctx, layers, bytesSource(req.CSV), req.Name, p.cfg.EmbeddingModel, p.cfg.Allowlist)
}

// bytesSource is a dataset.Source over a CSV in memory.
type bytesSource []byte

func (b bytesSource) Open(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(b)), nil
}

// estimateFrom loads the config from layers, validates and splits the CSV
// of src in memory and estimates the run; name names src in errors.
func estimateFrom(ctx context.Context, layers []config.Layer, src dataset.Source, name string, embedding config.Model, allow config.Allowlist) (*Estimate, error) {
	cfg, err := config.Load(layers...)
	if err == nil {
		err = allow.Check(cfg)
	}
	if err != nil {
		return nil, errs.Invalid(fmt.Errorf("invalid config: %w", err))
	}
	w := &statsWriter{splits: map[string]SplitStats{}}
	_, err = dataset.Ingest(ctx, src, dataset.Options{
		Ratios:    dataset.Ratios{Train: cfg.Split.Train, Val: cfg.Split.Val, Test: cfg.Split.Test},
		Seed:      cfg.Split.Seed,
		BatchSize: cfg.BatchSize,
		Limits:    dataset.Limits{MaxBytes: cfg.Limits.MaxBytes, MaxRows: cfg.Limits.MaxRows, MaxCellBytes: cfg.Limits.MaxCellBytes},
		Templates: promptTemplates(cfg.Prompt),
	}, w)
	var de *dataset.Error
	switch {
	case errors.As(err, &de):
		return nil, errs.Invalid(fmt.Errorf("invalid CSV %s: %w", name, de))
	case errors.Is(err, dataset.ErrInvalidOptions):
		return nil, errs.Invalid(fmt.Errorf("invalid config: %w", err))
	case err != nil:
		return nil, fmt.Errorf("pipeline.DryRun: %w", err)
	}
	e := EstimateRun(cfg, w.splits, embedding)
	return &e, nil
}

// teeWriter writes the shards to next and their statistics to stats.
type teeWriter struct {
	next  dataset.ShardWriter
	stats *statsWriter
}

func (t teeWriter) Create(ctx context.Context, split string, batch int) (io.WriteCloser, error) {
	w, err := t.next.Create(ctx, split, batch)
	if err != nil {
		return nil, err
	}
	st, _ := t.stats.Create(ctx, split, batch)
	return &teeShard{w: w, st: st}, nil
}

type teeShard struct {
	w, st io.WriteCloser
}

func (t *teeShard) Write(b []byte) (int, error) {
	_, _ = t.st.Write(b) // a bytes.Buffer: never fails
	return t.w.Write(b)
}

func (t *teeShard) Close() error {
	err := t.w.Close()
	if serr := t.st.Close(); err == nil {
		err = serr
	}
	return err
}

// statsWriter is a dataset.ShardWriter that keeps only each split's
// statistics.
type statsWriter struct {
	mu     sync.Mutex
	splits map[string]SplitStats
}

func (w *statsWriter) Create(_ context.Context, split string, _ int) (io.WriteCloser, error) {
	return &statsShard{w: w, split: split}, nil
}

type statsShard struct {
	w     *statsWriter
	split string
	buf   bytes.Buffer
}

func (s *statsShard) Write(b []byte) (int, error) { return s.buf.Write(b) }

func (s *statsShard) Close() error {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	st := s.w.splits[s.split]
	sc := bufio.NewScanner(&s.buf)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var ex dataset.Example
		if err := json.Unmarshal(sc.Bytes(), &ex); err != nil {
			return fmt.Errorf("pipeline.DryRun: shard line: %w", err)
		}
		st.Examples++
		st.InputTokens += llm.EstimateTokens(ex.UserInput)
		st.ExpectedTokens += llm.EstimateTokens(ex.GroundTruth)
	}
	s.w.splits[s.split] = st
	return sc.Err()
}
