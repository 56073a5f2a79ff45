package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/promptml/promptml/shared/metric"
)

// factory builds one metric from its options. It reads options through o,
// which records problems; Build reports the first one.
type factory func(o *options, deps Deps) Metric

// registry maps a metric name to its factory. It is filled by the files that
// define the metrics (in init) so each metric keeps its code and its options
// together.
var registry = map[string]factory{}

func register(name string, f factory) {
	if _, dup := registry[name]; dup {
		panic("eval: metric registered twice: " + name)
	}
	registry[name] = f
	// The run config validates a spec by building it with zero Deps, as
	// Build does, so both accept the same options.
	metric.Register(name, func(s Spec) (field, msg string) {
		if _, oe := buildOne(s, Deps{}); oe != nil {
			return "options." + oe.key, oe.msg
		}
		return "", ""
	})
}

// Names returns the registered metric names, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SpecError is the error Build returns for an unknown metric or a bad
// option (shared/metric declares it, for the run config's validation).
type SpecError = metric.SpecError

// Build turns the run config's metric specs into one Metric: the metric
// itself for one spec, a weighted composite for several (weights are
// normalized to sum to 1; a weight of 0 means 1). It rejects an empty list,
// unknown names, unknown options and bad option values with a *SpecError
// (metric.Check, the run config's own check).
// Deps may be zero: metrics that need a missing dependency fail at Score time.
func Build(specs []Spec, deps Deps) (Metric, error) {
	if err := metric.Check(specs); err != nil {
		return nil, err
	}
	parts := make([]Metric, len(specs))
	weights := make([]float64, len(specs))
	for i, s := range specs {
		m, oe := buildOne(s, deps)
		if oe != nil {
			// Check built the same spec without an error: options do not
			// depend on Deps.
			return nil, fmt.Errorf("eval.Build: metrics[%d]: %w", i, oe)
		}
		w := s.Weight
		if w == 0 {
			w = 1
		}
		parts[i], weights[i] = m, w
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	return newComposite(parts, weights), nil
}

// buildOne builds a registered metric from its spec, or reports its first
// bad option.
func buildOne(s Spec, deps Deps) (Metric, *optionError) {
	o := &options{m: s.Options, used: map[string]bool{}}
	m := registry[s.Name](o, deps)
	// threshold is common to every metric; read it after the factory so a
	// factory may have set its own default.
	if bm, ok := m.(interface{ setThreshold(float64) }); ok {
		if t, set := o.optFloat("threshold"); set {
			if t < 0 || t > 1 {
				o.fail("threshold", "must be in [0,1]")
			}
			bm.setThreshold(t)
		}
	}
	if err := o.finish(); err != nil {
		return nil, err
	}
	return m, nil
}

// base gives a metric its name and pass threshold.
type base struct {
	name      string
	threshold float64
}

// Name implements Metric.
func (b *base) Name() string { return b.name }

// Threshold implements Thresholder.
func (b *base) Threshold() float64     { return b.threshold }
func (b *base) setThreshold(t float64) { b.threshold = t }

// optionError is one bad option, turned into a SpecError by buildOne.
type optionError struct{ key, msg string }

func (e *optionError) Error() string { return "options." + e.key + ": " + e.msg }

// options reads a spec's options with type coercion (YAML, JSON and
// Firestore decode numbers differently) and remembers which keys were read,
// so unknown keys can be rejected.
type options struct {
	m    map[string]any
	used map[string]bool
	err  *optionError
}

func (o *options) fail(key, msg string) {
	if o.err == nil {
		o.err = &optionError{key: key, msg: msg}
	}
}

func (o *options) get(key string) (any, bool) {
	o.used[key] = true
	v, ok := o.m[key]
	if ok && v == nil {
		return nil, false
	}
	return v, ok
}

func (o *options) finish() *optionError {
	if o.err != nil {
		return o.err
	}
	var unknown []string
	for k := range o.m {
		if !o.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		known := make([]string, 0, len(o.used))
		for k := range o.used {
			known = append(known, k)
		}
		sort.Strings(known)
		return &optionError{key: unknown[0], msg: fmt.Sprintf("unknown option (known: %s)", strings.Join(known, ", "))}
	}
	return nil
}

// optFloat returns the option as a float64 and whether it was set.
func (o *options) optFloat(key string) (float64, bool) {
	v, ok := o.get(key)
	if !ok {
		return 0, false
	}
	f, ok := toFloat(v)
	if !ok {
		o.fail(key, fmt.Sprintf("must be a number, got %T", v))
		return 0, false
	}
	return f, true
}

func (o *options) float(key string, def float64) float64 {
	if f, ok := o.optFloat(key); ok {
		return f
	}
	return def
}

// nonNegFloat reads a float that must be >= 0.
func (o *options) nonNegFloat(key string, def float64) float64 {
	f := o.float(key, def)
	if f < 0 || math.IsNaN(f) {
		o.fail(key, "must be >= 0")
	}
	return f
}

func (o *options) int(key string, def, lo, hi int) int {
	f, ok := o.optFloat(key)
	if !ok {
		return def
	}
	if f != math.Trunc(f) {
		o.fail(key, "must be an integer")
		return def
	}
	if f < float64(lo) || f > float64(hi) {
		o.fail(key, fmt.Sprintf("must be in [%d,%d]", lo, hi))
		return def
	}
	return int(f)
}

func (o *options) bool(key string, def bool) bool {
	v, ok := o.get(key)
	if !ok {
		return def
	}
	switch b := v.(type) {
	case bool:
		return b
	case string:
		if p, err := strconv.ParseBool(b); err == nil {
			return p
		}
	}
	o.fail(key, fmt.Sprintf("must be true or false, got %v", v))
	return def
}

func (o *options) string(key, def string) string {
	v, ok := o.get(key)
	if !ok {
		return def
	}
	s, ok := v.(string)
	if !ok {
		o.fail(key, fmt.Sprintf("must be a string, got %T", v))
		return def
	}
	return s
}

// oneOf reads a string option restricted to the given values.
func (o *options) oneOf(key, def string, allowed ...string) string {
	s := o.string(key, def)
	if !slices.Contains(allowed, s) {
		o.fail(key, fmt.Sprintf("must be one of %s, got %q", strings.Join(allowed, ", "), s))
		return def
	}
	return s
}

// strings reads a list of strings. A single string is a JSON array when it
// parses as one, else it is split on commas, so `--option fields=a,b` works
// on the command line.
func (o *options) strings(key string) ([]string, bool) {
	v, ok := o.get(key)
	if !ok {
		return nil, false
	}
	switch l := v.(type) {
	case []string:
		return l, true
	case string:
		// A JSON array keeps commas inside values: ["a,b","c"].
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "[") {
			var arr []string
			if err := json.Unmarshal([]byte(t), &arr); err == nil {
				return arr, true
			}
		}
		var out []string
		for p := range strings.SplitSeq(l, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, true
	case []any:
		out := make([]string, 0, len(l))
		for _, e := range l {
			s, ok := e.(string)
			if !ok {
				o.fail(key, fmt.Sprintf("must be a list of strings, got an element of type %T", e))
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	o.fail(key, fmt.Sprintf("must be a list of strings, got %T", v))
	return nil, false
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil
	}
	return 0, false
}

// normalizeJSON converts values decoded by YAML or Firestore (map[any]any,
// []string, int64, ...) into the shapes encoding/json produces, so option
// values compare and validate the same way whatever config format held them.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeJSON(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = normalizeJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeJSON(e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	case string, bool, float64:
		return x
	}
	if f, ok := toFloat(v); ok {
		return f
	}
	return v
}

// composite is the weighted mean of several metrics.
type composite struct {
	parts   []Metric
	weights []float64 // normalized to sum to 1
}

func newComposite(parts []Metric, weights []float64) *composite {
	var sum float64
	for _, w := range weights {
		sum += w
	}
	norm := make([]float64, len(weights))
	for i, w := range weights {
		norm[i] = w / sum
	}
	return &composite{parts: parts, weights: norm}
}

// Name implements Metric.
func (c *composite) Name() string { return "composite" }

// Threshold is the weighted mean of the parts' thresholds: an example passes
// when its weighted score reaches what the parts would ask of it together.
func (c *composite) Threshold() float64 {
	var t float64
	for i, m := range c.parts {
		t += c.weights[i] * Threshold(m)
	}
	return t
}

// Score is the weighted mean of the parts' scores. If any part fails the
// composite fails: a partial mean would be a silent 0 for the missing part.
func (c *composite) Score(ctx context.Context, prediction, reference string) (Score, error) {
	var v float64
	var expl []string
	for i, m := range c.parts {
		s, err := m.Score(ctx, prediction, reference)
		if err != nil {
			return Score{}, fmt.Errorf("composite part %d (%s): %w", i, m.Name(), err)
		}
		v += c.weights[i] * s.Value
		e := fmt.Sprintf("%s=%.3f", m.Name(), s.Value)
		if s.Explanation != "" {
			e += " (" + s.Explanation + ")"
		}
		expl = append(expl, e)
	}
	return Score{Value: clamp01(v), Explanation: strings.Join(expl, "; ")}, nil
}

func clamp01(v float64) float64 {
	switch {
	case v < 0 || math.IsNaN(v):
		return 0
	case v > 1:
		return 1
	}
	return v
}
