// Package config is the run configuration: the embedded defaults, the
// sidecar YAML a user uploads next to the CSV, and the POST /runs body, merged
// in that order and validated with the path of every bad field.
package config

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/goccy/go-yaml"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/llm/provider"
	"github.com/promptml/promptml/shared/metric"
)

//go:embed defaults.yaml
var defaultsYAML []byte

// Run is the configuration of one training run. Every field's default is in
// defaults.yaml (documented in docs/config.md).
type Run struct {
	// Prompt is the initial prompt (version 0).
	Prompt Prompt `yaml:"prompt" json:"prompt"`
	// Split sets how rows without a `split` column are divided.
	Split Split `yaml:"split" json:"split"`
	// Epochs is the maximum number of optimizer epochs (default 5; 0 scores
	// the initial prompt only).
	Epochs int `yaml:"epochs" json:"epochs"`
	// BatchSize is the number of examples one RunBatch invocation scores
	// (default 20).
	BatchSize int `yaml:"batch_size" json:"batch_size"`
	// Candidates is the number of prompts the optimizer proposes per epoch
	// (default 1).
	Candidates int `yaml:"candidates" json:"candidates"`
	// EarlyStopping stops training after `patience` epochs without an
	// accepted candidate.
	EarlyStopping EarlyStopping `yaml:"early_stopping" json:"early_stopping"`
	// Metrics score each answer; several make a weighted composite
	// (default exact_match). Names and options: docs/metrics.md. Each
	// metric's `threshold` option is its pass threshold: an example scoring
	// below it is a failure the optimizer sees.
	Metrics []metric.Spec `yaml:"metrics" json:"metrics"`
	// Gate decides whether a candidate replaces the incumbent.
	Gate Gate `yaml:"gate" json:"gate"`
	// Optimizer proposes new prompts from the incumbent's failures.
	Optimizer Optimizer `yaml:"optimizer" json:"optimizer"`
	// Primary is the model being prompted.
	Primary Model `yaml:"primary" json:"primary"`
	// Limits bound the dataset and the work of one batch.
	Limits Limits `yaml:"limits" json:"limits"`
	// Cache is the LLM response cache mode: "off", "read" (answer from it,
	// store nothing) or "readwrite" (default): docs/llm.md.
	Cache string `yaml:"cache" json:"cache"`
	// Prices are what each model charges, by model name, in US dollars per
	// million tokens (defaults: the Gemini models, docs/llm.md). A model
	// without an entry costs 0.
	Prices map[string]llm.Price `yaml:"prices" json:"prices"`
	// Budget stops the run (status budget_exhausted) before it would spend
	// more (default: no limit).
	Budget Budget `yaml:"budget" json:"budget"`
}

// Budget bounds what a run may spend; 0 means no limit. When the next phase
// would cross a limit, the run ends budget_exhausted with the best prompt
// so far exported.
type Budget struct {
	// MaxUSD bounds the cost at the price table (default 0: no limit).
	MaxUSD float64 `yaml:"max_usd" json:"max_usd"`
	// MaxCalls bounds paid model calls (cache hits are free) (default 0).
	MaxCalls int `yaml:"max_calls" json:"max_calls"`
	// MaxTokens bounds input + output tokens of paid calls (default 0).
	MaxTokens int `yaml:"max_tokens" json:"max_tokens"`
}

// Set reports whether any limit is set.
func (b Budget) Set() bool { return b.MaxUSD > 0 || b.MaxCalls > 0 || b.MaxTokens > 0 }

// Price returns the price of model m (zero when the table has none).
func (r Run) Price(m Model) llm.Price { return r.Prices[m.Name] }

// Prompt is the initial prompt: three templates over a row's variables
// (its columns other than id, split and ground_truth_output, written
// {{name}}; shared/template). The primary call is: system instruction =
// System rendered; user content = User rendered, a blank line, then Output
// rendered.
type Prompt struct {
	// System is the system instruction (default "You are a helpful assistant.").
	System string `yaml:"system" json:"system"`
	// User is the template of the user turn (default "{{user_input}}"):
	// the layout of the user's data, which the optimizer does not change
	// unless optimizer.edit_user_template is set. Empty (a run stored
	// before it existed) means the default.
	User string `yaml:"user" json:"user"`
	// Output is appended to the rendered user template after a blank line
	// (default "Answer the request.").
	Output string `yaml:"output" json:"output"`
}

// DefaultUserTemplate is the user turn of a prompt that does not set one:
// the user_input column, as before templates existed.
const DefaultUserTemplate = "{{user_input}}"

// UserTemplate is p.User, or DefaultUserTemplate when it is empty.
func (p Prompt) UserTemplate() string {
	if p.User == "" {
		return DefaultUserTemplate
	}
	return p.User
}

// Split holds the train/val/test fractions and the seed of the
// deterministic split.
type Split struct {
	// Train is the training fraction (default 0.6): the optimizer sees only
	// these examples.
	Train float64 `yaml:"train" json:"train"`
	// Val is the validation fraction (default 0.2): the gate decides on it.
	Val float64 `yaml:"val" json:"val"`
	// Test is the locked test fraction (default 0.2), scored once at the end.
	Test float64 `yaml:"test" json:"test"`
	// Seed makes the split reproducible (default 42).
	Seed int64 `yaml:"seed" json:"seed"`
}

// EarlyStopping ends training when validation stops improving.
type EarlyStopping struct {
	// Patience is the number of consecutive epochs without an accepted
	// candidate after which training stops (default 2; 0 disables).
	Patience int `yaml:"patience" json:"patience"`
	// Metric is the phase statistic compared: "mean" or "pass_rate"
	// (default mean).
	Metric string `yaml:"metric" json:"metric"`
	// MinDelta is the improvement of the best validation score below which
	// an epoch counts as "no improvement" (default 0).
	MinDelta float64 `yaml:"min_delta" json:"min_delta"`
}

// Gate is the validation gate.
type Gate struct {
	// MinDelta: a candidate is accepted only if its validation score beats
	// the incumbent's by more than this (default 0, i.e. strictly better).
	MinDelta float64 `yaml:"min_delta" json:"min_delta"`
	// Test is the paired significance test on the per-example val scores
	// of the best candidate vs the incumbent: "mcnemar" (exact, on pass/fail
	// per example), "bootstrap" (paired, seeded, on the graded scores) or
	// "none" (min_delta only). Default mcnemar. docs/optimizers.md says why.
	Test string `yaml:"test" json:"test"`
	// Alpha is the significance level: the candidate is accepted only if the
	// one-sided p-value is ≤ alpha (default 0.1).
	Alpha float64 `yaml:"alpha" json:"alpha"`
	// Samples is the number of bootstrap resamples (default 2000).
	Samples int `yaml:"samples" json:"samples"`
	// Seed seeds the bootstrap so a decision is reproducible (default 1).
	Seed int64 `yaml:"seed" json:"seed"`
}

// Optimizer configures the optimizer LLM.
type Optimizer struct {
	// Strategy is the optimizer strategy: "rewrite" (full new prompts),
	// "edit" (targeted replace/insert/delete edits), "fewshot" (training
	// examples as demonstrations) or "auto" (picks one per epoch from their
	// acceptance history in the run). Default rewrite.
	Strategy string `yaml:"strategy" json:"strategy"`
	// MetaPrompt overrides the strategy's embedded meta-prompt
	// (prompts/optimizer/<strategy>.md) when not empty. It must contain
	// {{DATA}} where the data block goes; it cannot be set with strategy
	// auto (one meta-prompt cannot serve three reply formats).
	MetaPrompt string `yaml:"meta_prompt" json:"meta_prompt"`
	// MaxFailures is how many of the incumbent's worst training examples the
	// optimizer sees (default 8).
	MaxFailures int `yaml:"max_failures" json:"max_failures"`
	// History is how many earlier candidates, with their val scores, the
	// meta-prompt carries, worst to best (default 5; 0 = none).
	History int `yaml:"history" json:"history"`
	// MaxTries is how many times one proposal is asked for when the reply
	// cannot be parsed, fails validation or carries edits that do not
	// apply; each retry shows the optimizer its previous error (default 3).
	MaxTries int `yaml:"max_tries" json:"max_tries"`
	// FewShot configures the fewshot strategy.
	FewShot FewShot `yaml:"fewshot" json:"fewshot"`
	// Guards check every candidate before it is scored.
	Guards Guards `yaml:"guards" json:"guards"`
	// Model is the optimizer model (default sim/sim-optimizer, temperature 0.7).
	Model Model `yaml:"model" json:"model"`
}

// FewShot configures the demonstrations of the fewshot strategy. They are
// always training examples (input and ground truth), never val or test.
type FewShot struct {
	// MaxDemos is the most demonstrations a prompt may carry (default 4).
	MaxDemos int `yaml:"max_demos" json:"max_demos"`
	// Pool is how many training examples the optimizer may choose from:
	// failures first, then diverse successes (default 12).
	Pool int `yaml:"pool" json:"pool"`
}

// Guards are the checks a candidate must pass before it is scored; a
// candidate that fails one is recorded as blocked with the reason.
type Guards struct {
	// MaxChars is the longest system + output prompt (plus demonstrations)
	// accepted, in characters (default 8000).
	MaxChars int `yaml:"max_chars" json:"max_chars"`
	// MinChars is the shortest system + output prompt accepted (default 1).
	MinChars int `yaml:"min_chars" json:"min_chars"`
	// Leakage rejects candidates that contain validation or test answers.
	Leakage Leakage `yaml:"leakage" json:"leakage"`
}

// Leakage configures the leakage check against val and test ground truths.
type Leakage struct {
	// Enabled turns the check on (default true).
	Enabled bool `yaml:"enabled" json:"enabled"`
	// MinWords: ground truths shorter than this many words are not checked
	// (labels such as "positive" belong in a prompt) (default 3).
	MinWords int `yaml:"min_words" json:"min_words"`
	// NGram is the word n-gram size of the overlap check (default 3).
	NGram int `yaml:"ngram" json:"ngram"`
	// MaxOverlap: a candidate containing more than this share of one
	// ground truth's word n-grams is rejected (default 0.5); a ground truth
	// contained verbatim is always rejected.
	MaxOverlap float64 `yaml:"max_overlap" json:"max_overlap"`
}

// Model names a model of a provider.
type Model struct {
	// Provider is a registered provider (shared/llm/provider): the
	// offline simulator, Gemini on Vertex AI, or an OpenAI-compatible
	// endpoint.
	Provider string `yaml:"provider" json:"provider"`
	// Name is the model name, e.g. "gemini-3.8-flash" (the dated catalog:
	// models.yaml).
	Name string `yaml:"name" json:"name"`
	// Temperature is the sampling temperature in [0,2]. Gemini 3 and later:
	// keep 1.0 (Google's guidance; lower values can loop or degrade
	// reasoning).
	Temperature float64 `yaml:"temperature" json:"temperature"`
	// ThinkingLevel is the model's thinking effort: "minimal", "low",
	// "medium" or "high" (Gemini 3 and later; the openai provider sends it
	// as reasoning_effort). Empty leaves the model's default.
	ThinkingLevel string `yaml:"thinking_level,omitempty" json:"thinking_level,omitempty"`
	// ThinkingBudget caps the thinking tokens (Gemini 2.5-style budget: -1
	// dynamic, 0 off where the model allows it). nil leaves the model's
	// default; at most one of ThinkingLevel and ThinkingBudget is set.
	ThinkingBudget *int `yaml:"thinking_budget,omitempty" json:"thinking_budget,omitempty"`
	// MaxOutputTokens caps each reply (0 = provider default).
	MaxOutputTokens int `yaml:"max_output_tokens,omitempty" json:"max_output_tokens,omitempty"`
	// BaseURL is the API root of an openai provider, e.g.
	// "http://127.0.0.1:11434/v1" (required for openai, unused otherwise).
	BaseURL string `yaml:"base_url,omitempty" json:"base_url,omitempty"`
	// APIKeyEnv is no longer accepted (validation refuses it): the key of
	// an openai endpoint comes from the deployment's allowlist
	// (Allowlist.OpenAIEndpoints). Kept so that runs stored before that
	// still decode.
	APIKeyEnv string `yaml:"api_key_env,omitempty" json:"api_key_env,omitempty"`
	// RequestsPerMinute bounds this model's calls per function instance
	// (default 0: no limit).
	RequestsPerMinute int `yaml:"requests_per_minute,omitempty" json:"requests_per_minute,omitempty"`
	// TokensPerMinute bounds this model's tokens per function instance
	// (default 0: no limit).
	TokensPerMinute int `yaml:"tokens_per_minute,omitempty" json:"tokens_per_minute,omitempty"`
	// MaxConcurrency bounds this model's calls in flight per instance; the
	// adaptive limit moves between 1 and it (default 0: 64).
	MaxConcurrency int `yaml:"max_concurrency,omitempty" json:"max_concurrency,omitempty"`
}

// Thinking is the model's thinking control for a request (nil: the
// model's default).
func (m Model) Thinking() *llm.Thinking {
	if m.ThinkingLevel == "" && m.ThinkingBudget == nil {
		return nil
	}
	th := &llm.Thinking{Level: m.ThinkingLevel}
	if m.ThinkingBudget != nil {
		b := *m.ThinkingBudget
		th.Budget = &b
	}
	return th
}

// Key names the model in usage and in the response cache:
// "provider/name".
func (m Model) Key() string { return m.Provider + "/" + m.Name }

// Limits are the model's limiter settings.
func (m Model) Limits() llm.Limits {
	return llm.Limits{RequestsPerMinute: m.RequestsPerMinute, TokensPerMinute: m.TokensPerMinute, MaxConcurrency: m.MaxConcurrency}
}

// Limits bound the input and the work.
type Limits struct {
	// MaxBytes is the largest CSV accepted (default 100 MiB).
	MaxBytes int64 `yaml:"max_bytes" json:"max_bytes"`
	// MaxRows is the most data rows accepted (default 1,000,000).
	MaxRows int `yaml:"max_rows" json:"max_rows"`
	// MaxCellBytes is the largest cell accepted (default 64 KiB).
	MaxCellBytes int `yaml:"max_cell_bytes" json:"max_cell_bytes"`
	// Concurrency is the number of primary calls one batch runs at once
	// (default 8).
	Concurrency int `yaml:"concurrency" json:"concurrency"`
}

// Known values.
var (
	cacheModes = []string{llm.CacheOff, llm.CacheRead, llm.CacheReadWrite}
	strategies = []string{"rewrite", "edit", "fewshot", "auto"}
	gateTests  = []string{"mcnemar", "bootstrap", "none"}
	esMetrics  = []string{"mean", "pass_rate"}
)

// Defaults returns the embedded default configuration.
func Defaults() Run {
	var r Run
	if err := yaml.Unmarshal(defaultsYAML, &r); err != nil {
		// The file is embedded and covered by tests: this cannot happen in a
		// released binary.
		panic(fmt.Sprintf("config: embedded defaults: %v", err))
	}
	// The default price table is the dated model catalog's list prices of
	// today (models.yaml); a run freezes it at its intake.
	r.Prices = Models().PricesAt(time.Now())
	return r
}

// FieldError is a configuration error at a field path such as
// "split.val" or "metrics[1].name".
type FieldError struct {
	// Source names the layer: "sidecar", "request", "defaults" or a file name.
	Source string
	// Path is the dotted field path.
	Path string
	// Reason says what is wrong.
	Reason string
}

func (e *FieldError) Error() string {
	if e.Source != "" {
		return fmt.Sprintf("%s: %s: %s", e.Source, e.Path, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Reason)
}

// Layer is one YAML (or JSON) document overriding the previous ones.
type Layer struct {
	// Source names the layer in error messages.
	Source string
	// Data is YAML or JSON; empty means no override.
	Data []byte
}

// Load merges the layers over the defaults and validates the result. Keys a
// layer sets override earlier values; lists (metrics) replace the earlier
// list whole.
func Load(layers ...Layer) (Run, error) {
	cfg := Defaults()
	for _, l := range layers {
		if len(strings.TrimSpace(string(l.Data))) == 0 {
			continue
		}
		if err := apply(&cfg, l); err != nil {
			return Run{}, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return Run{}, err
	}
	return cfg, nil
}

func apply(cfg *Run, l Layer) error {
	l.Data = plainJSONNumbers(l.Data)
	var raw any
	if err := yaml.Unmarshal(l.Data, &raw); err != nil {
		return &FieldError{Source: l.Source, Path: "(document)", Reason: "not valid YAML: " + oneLine(err.Error())}
	}
	if raw == nil {
		return nil
	}
	if err := checkShape("", raw, reflect.TypeOf(Run{})); err != nil {
		err.Source = l.Source
		return err
	}
	if err := yaml.UnmarshalWithOptions(l.Data, cfg, yaml.DisallowUnknownField()); err != nil {
		return &FieldError{Source: l.Source, Path: "(document)", Reason: oneLine(err.Error())}
	}
	return nil
}

// checkShape walks a decoded YAML value against the Go type so that unknown
// keys and wrong kinds are reported with their path, which the YAML
// decoder's own messages do not give.
func checkShape(path string, v any, t reflect.Type) *FieldError {
	if v == nil {
		return nil
	}
	at := func(reason string) *FieldError {
		p := path
		if p == "" {
			p = "(document)"
		}
		return &FieldError{Path: p, Reason: reason}
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return at(fmt.Sprintf("must be a mapping, got %s", describe(v)))
		}
		fields := map[string]reflect.StructField{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name != "" && name != "-" {
				fields[name] = f
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f, ok := fields[k]
			if !ok {
				known := make([]string, 0, len(fields))
				for n := range fields {
					known = append(known, n)
				}
				sort.Strings(known)
				reason := "unknown key (known keys: " + strings.Join(known, ", ") + ")"
				if near := nearest(k, known); near != "" {
					reason += "; did you mean `" + near + "`?"
				}
				return &FieldError{Path: join(path, quoteKey(k)), Reason: reason}
			}
			if err := checkShape(join(path, k), m[k], f.Type); err != nil {
				return err
			}
		}
	case reflect.Slice:
		s, ok := v.([]any)
		if !ok {
			return at(fmt.Sprintf("must be a list, got %s", describe(v)))
		}
		for i, e := range s {
			if err := checkShape(fmt.Sprintf("%s[%d]", path, i), e, t.Elem()); err != nil {
				return err
			}
		}
	case reflect.Pointer:
		return checkShape(path, v, t.Elem())
	case reflect.Map:
		if _, ok := v.(map[string]any); !ok {
			return at(fmt.Sprintf("must be a mapping, got %s", describe(v)))
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			return at(fmt.Sprintf("must be a string, got %s", describe(v)))
		}
	case reflect.Int, reflect.Int64:
		switch n := v.(type) {
		case int, int64, uint64:
		case float64:
			if n != math.Trunc(n) {
				return at(fmt.Sprintf("must be a whole number, got %v", n))
			}
		default:
			return at(fmt.Sprintf("must be a whole number, got %s", describe(v)))
		}
	case reflect.Float64:
		switch x := v.(type) {
		case int, int64, uint64, float64:
		case string:
			if _, err := strconv.ParseFloat(x, 64); err == nil {
				// YAML 1.1, which the decoder follows, reads an exponent
				// without a decimal point (1e-7) as a string.
				return at(fmt.Sprintf("must be a number, got the string %q (YAML reads an exponent without a decimal point as text: write %s or %s)",
					x, strconv.FormatFloat(mustFloat(x), 'f', -1, 64), withPoint(x)))
			}
			return at(fmt.Sprintf("must be a number, got %s", describe(v)))
		default:
			return at(fmt.Sprintf("must be a number, got %s", describe(v)))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return at(fmt.Sprintf("must be true or false, got %s", describe(v)))
		}
	}
	return nil
}

// plainJSONNumbers rewrites the numbers of a JSON document in plain decimal
// notation (1e-07 → 0.0000001), because the YAML decoder reads an exponent
// without a decimal point as a string while JSON encoders (Go's included)
// write small and large floats that way. Anything else is returned as is.
func plainJSONNumbers(data []byte) []byte {
	t := bytes.TrimSpace(data)
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) || !bytes.ContainsAny(t, "eE") {
		return data
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return data
	}
	out, err := json.Marshal(plainNumbers(v))
	if err != nil {
		return data
	}
	return out
}

// plainNumbers replaces every json.Number with its plain decimal form.
func plainNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = plainNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = plainNumbers(e)
		}
	case json.Number:
		s := x.String()
		if !strings.ContainsAny(s, "eE") {
			return x
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return x
		}
		p := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(p, ".") {
			p += ".0" // still a float, not an integer that may overflow
		}
		return json.Number(p)
	}
	return v
}

func mustFloat(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// withPoint writes an exponent literal with a decimal point (1e-7 → 1.0e-7).
func withPoint(s string) string {
	i := strings.IndexAny(s, "eE")
	if i < 0 || strings.Contains(s[:i], ".") {
		return s
	}
	return s[:i] + ".0" + s[i:]
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 80 {
			// The reason is stored on the run: a long value is cut.
			x = strings.ToValidUTF8(x[:80], "") + "…"
		}
		return fmt.Sprintf("the string %q", x)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	default:
		return fmt.Sprintf("%v", x)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// quoteKey writes an unknown key as it can be read in a path: quoted when
// it is empty or holds characters other than letters, digits, '_' and '-',
// and cut to 64 bytes.
func quoteKey(k string) string {
	plain := k != ""
	for _, r := range k {
		plain = plain && (r == '_' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r))
	}
	if len(k) > 64 {
		k = strings.ToValidUTF8(k[:64], "") + "…"
	}
	if plain {
		return k
	}
	return strconv.Quote(k)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Validate checks every value and returns every bad one, each a
// *FieldError, joined (errors.As finds the first).
func (r Run) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path, Reason: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(r.Prompt.System) == "" && strings.TrimSpace(r.Prompt.Output) == "" {
		bad("prompt", "system and output cannot both be empty")
	}
	if strings.TrimSpace(r.Prompt.User) == "" {
		bad("prompt.user", "cannot be empty: it is the template of the user turn (default %s)", DefaultUserTemplate)
	}
	for _, f := range []struct {
		path string
		v    float64
	}{{"split.train", r.Split.Train}, {"split.val", r.Split.Val}, {"split.test", r.Split.Test}} {
		if f.v < 0 || f.v > 1 || math.IsNaN(f.v) {
			bad(f.path, "must be between 0 and 1, got %v", f.v)
		}
	}
	if sum := r.Split.Train + r.Split.Val + r.Split.Test; math.Abs(sum-1) > 1e-9 {
		bad("split", "train + val + test must be 1, got %v", sum)
	}
	if r.Split.Train <= 0 {
		bad("split.train", "must be > 0: the optimizer learns from the training split")
	}
	if r.Split.Val <= 0 {
		bad("split.val", "must be > 0: the gate decides on the validation split")
	}
	if r.Epochs < 0 || r.Epochs > 100 {
		bad("epochs", "must be between 0 and 100, got %d", r.Epochs)
	}
	if r.BatchSize < 1 || r.BatchSize > 1000 {
		bad("batch_size", "must be between 1 and 1000, got %d", r.BatchSize)
	}
	if r.Candidates < 1 || r.Candidates > 16 {
		bad("candidates", "must be between 1 and 16, got %d", r.Candidates)
	}
	if r.EarlyStopping.Patience < 0 {
		bad("early_stopping.patience", "must be >= 0, got %d", r.EarlyStopping.Patience)
	}
	if !contains(esMetrics, r.EarlyStopping.Metric) {
		bad("early_stopping.metric", "must be one of %s, got %q", strings.Join(esMetrics, ", "), r.EarlyStopping.Metric)
	}
	if r.EarlyStopping.MinDelta < 0 {
		bad("early_stopping.min_delta", "must be >= 0, got %v", r.EarlyStopping.MinDelta)
	}
	if len(r.Metrics) == 0 {
		bad("metrics", "at least one metric is required")
	} else if err := metric.Check(r.Metrics); err != nil {
		var se *metric.SpecError
		if errors.As(err, &se) {
			reason := se.Msg
			if se.Field != "name" {
				reason += fmt.Sprintf(" (metric %s)", se.Metric)
			}
			bad(fmt.Sprintf("metrics[%d].%s", se.Index, se.Field), "%s", reason)
		} else {
			bad("metrics", "%v", err)
		}
	}
	if r.Gate.MinDelta < 0 || r.Gate.MinDelta >= 1 {
		bad("gate.min_delta", "must be in [0,1), got %v", r.Gate.MinDelta)
	}
	if !contains(gateTests, r.Gate.Test) {
		bad("gate.test", "must be one of %s, got %q", strings.Join(gateTests, ", "), r.Gate.Test)
	}
	if !(r.Gate.Alpha > 0 && r.Gate.Alpha <= 1) {
		bad("gate.alpha", "must be in (0,1], got %v", r.Gate.Alpha)
	}
	if r.Gate.Samples < 100 || r.Gate.Samples > 100000 {
		bad("gate.samples", "must be between 100 and 100000, got %d", r.Gate.Samples)
	}
	if !contains(strategies, r.Optimizer.Strategy) {
		bad("optimizer.strategy", "must be one of %s, got %q", strings.Join(strategies, ", "), r.Optimizer.Strategy)
	}
	if r.Optimizer.MetaPrompt != "" && !strings.Contains(r.Optimizer.MetaPrompt, "{{DATA}}") {
		bad("optimizer.meta_prompt", "must contain {{DATA}} where the data block goes")
	}
	if r.Optimizer.MetaPrompt != "" && r.Optimizer.Strategy == "auto" {
		bad("optimizer.meta_prompt", "cannot be set with strategy auto: pick one strategy to override its meta-prompt")
	}
	if r.Optimizer.History < 0 || r.Optimizer.History > 50 {
		bad("optimizer.history", "must be between 0 and 50, got %d", r.Optimizer.History)
	}
	if r.Optimizer.MaxTries < 1 || r.Optimizer.MaxTries > 10 {
		bad("optimizer.max_tries", "must be between 1 and 10, got %d", r.Optimizer.MaxTries)
	}
	if r.Optimizer.FewShot.MaxDemos < 1 || r.Optimizer.FewShot.MaxDemos > 32 {
		bad("optimizer.fewshot.max_demos", "must be between 1 and 32, got %d", r.Optimizer.FewShot.MaxDemos)
	}
	if r.Optimizer.FewShot.Pool < r.Optimizer.FewShot.MaxDemos || r.Optimizer.FewShot.Pool > 100 {
		bad("optimizer.fewshot.pool", "must be between max_demos (%d) and 100, got %d", r.Optimizer.FewShot.MaxDemos, r.Optimizer.FewShot.Pool)
	}
	g := r.Optimizer.Guards
	if g.MinChars < 0 {
		bad("optimizer.guards.min_chars", "must be >= 0, got %d", g.MinChars)
	}
	if g.MaxChars <= g.MinChars {
		bad("optimizer.guards.max_chars", "must be > min_chars (%d), got %d", g.MinChars, g.MaxChars)
	}
	if g.Leakage.MinWords < 1 {
		bad("optimizer.guards.leakage.min_words", "must be >= 1, got %d", g.Leakage.MinWords)
	}
	if g.Leakage.NGram < 1 || g.Leakage.NGram > 10 {
		bad("optimizer.guards.leakage.ngram", "must be between 1 and 10, got %d", g.Leakage.NGram)
	}
	if !(g.Leakage.MaxOverlap > 0 && g.Leakage.MaxOverlap <= 1) {
		bad("optimizer.guards.leakage.max_overlap", "must be in (0,1], got %v", g.Leakage.MaxOverlap)
	}
	if r.Optimizer.MaxFailures < 1 || r.Optimizer.MaxFailures > 100 {
		bad("optimizer.max_failures", "must be between 1 and 100, got %d", r.Optimizer.MaxFailures)
	}
	r.Optimizer.Model.validate("optimizer.model", bad)
	r.Primary.validate("primary", bad)
	if r.Limits.MaxBytes < 1 {
		bad("limits.max_bytes", "must be > 0, got %d", r.Limits.MaxBytes)
	}
	if r.Limits.MaxRows < 1 {
		bad("limits.max_rows", "must be > 0, got %d", r.Limits.MaxRows)
	}
	if r.Limits.MaxCellBytes < 1 {
		bad("limits.max_cell_bytes", "must be > 0, got %d", r.Limits.MaxCellBytes)
	}
	if r.Limits.Concurrency < 1 || r.Limits.Concurrency > 256 {
		bad("limits.concurrency", "must be between 1 and 256, got %d", r.Limits.Concurrency)
	}
	r.validateSpend(bad)
	return errors.Join(errs...)
}

func (m Model) validate(path string, bad func(path, format string, args ...any)) {
	if _, ok := provider.Lookup(m.Provider); !ok {
		bad(path+".provider", "%s", provider.Unknown(m.Provider))
	}
	if strings.TrimSpace(m.Name) == "" {
		bad(path+".name", "is required")
	}
	if m.Temperature < 0 || m.Temperature > 2 {
		bad(path+".temperature", "must be between 0 and 2, got %v", m.Temperature)
	}
	if m.MaxOutputTokens < 0 {
		bad(path+".max_output_tokens", "must be >= 0, got %d", m.MaxOutputTokens)
	}
	m.validateOpenAI(path, bad)
	m.validateThinking(path, bad)
	for _, f := range []struct {
		name string
		v    int
	}{{"requests_per_minute", m.RequestsPerMinute}, {"tokens_per_minute", m.TokensPerMinute}, {"max_concurrency", m.MaxConcurrency}} {
		if f.v < 0 {
			bad(path+"."+f.name, "must be >= 0 (0: no limit), got %d", f.v)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ToMap returns the configuration as a JSON-shaped map, the form stored on
// the run document.
func (r Run) ToMap() (map[string]any, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("config.ToMap: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("config.ToMap: %w", err)
	}
	return m, nil
}

// FromMap is the inverse of ToMap.
func FromMap(m map[string]any) (Run, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return Run{}, fmt.Errorf("config.FromMap: %w", err)
	}
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		return Run{}, fmt.Errorf("config.FromMap: %w", err)
	}
	return r, nil
}
