// Package metric is what a run config says about a metric: its Spec (name,
// weight, options) and the names the run config accepts, each with the
// check of its options. shared/eval registers every metric it implements
// here (in init), so shared/config validates `metrics:` without importing
// the metrics themselves: the config is the contract, eval the
// implementation.
package metric

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
)

// Spec names one metric and its options, as written in the run config under
// `metrics:`.
type Spec struct {
	// Name is the registry name, e.g. "exact_match".
	Name string `yaml:"name" json:"name" firestore:"name"`
	// Weight is the metric's weight in a composite; 0 means 1.
	Weight float64 `yaml:"weight,omitempty" json:"weight,omitempty" firestore:"weight,omitempty"`
	// Options are the metric's own options (documented in docs/metrics.md).
	Options map[string]any `yaml:"options,omitempty" json:"options,omitempty" firestore:"options,omitempty"`
}

// SpecError is the error Check (and eval.Build) returns for an unknown
// metric or a bad option. Its message is a path into the run config, e.g.
// "metrics[1].options.tolerance: must be >= 0 (metric numeric)".
type SpecError struct {
	// Index is the spec's position in the list.
	Index int
	// Metric is the spec's name.
	Metric string
	// Field is "name", "weight" or "options.<key>".
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error implements error.
func (e *SpecError) Error() string {
	if e.Field == "name" {
		return fmt.Sprintf("metrics[%d].name: %s", e.Index, e.Msg)
	}
	return fmt.Sprintf("metrics[%d].%s: %s (metric %s)", e.Index, e.Field, e.Msg, e.Metric)
}

// OptionCheck checks the options of one spec of its metric. It returns the
// field at fault ("options.<key>") and what is wrong, or two empty strings
// when the options are valid.
type OptionCheck func(s Spec) (field, msg string)

var (
	mu       sync.RWMutex
	registry = map[string]OptionCheck{}
)

// Register makes a metric name valid in run configs, with the check of its
// options. It panics on a name registered twice (a programming error, found
// at init).
func Register(name string, check OptionCheck) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[name]; dup {
		panic("metric: registered twice: " + name)
	}
	registry[name] = check
}

// Names returns the registered metric names, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Check validates a run config's metric list: not empty, every name
// registered, every spec's options valid, every weight a finite number
// >= 0. The first problem is returned, a *SpecError for a spec's own.
func Check(specs []Spec) error {
	if len(specs) == 0 {
		return errors.New("metrics: at least one metric is required")
	}
	for i, s := range specs {
		if err := checkOne(i, s); err != nil {
			return err
		}
	}
	return nil
}

func checkOne(i int, s Spec) error {
	mu.RLock()
	check, ok := registry[s.Name]
	empty := len(registry) == 0
	mu.RUnlock()
	if !ok {
		msg := fmt.Sprintf("unknown metric %q (known: %s)", s.Name, strings.Join(Names(), ", "))
		switch {
		case s.Name == "":
			msg = "required"
		case empty:
			// A binary that validates configs without linking the
			// metrics: a build mistake, said as such.
			msg = fmt.Sprintf("unknown metric %q (no metric is registered: the program does not link shared/eval)", s.Name)
		}
		return &SpecError{Index: i, Metric: s.Name, Field: "name", Msg: msg}
	}
	if field, msg := check(s); field != "" {
		return &SpecError{Index: i, Metric: s.Name, Field: field, Msg: msg}
	}
	if w := s.Weight; w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
		return &SpecError{Index: i, Metric: s.Name, Field: "weight", Msg: "must be a finite number >= 0"}
	}
	return nil
}
