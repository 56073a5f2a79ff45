package config

import (
	_ "embed"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/promptml/promptml/shared/llm"
)

//go:embed models.yaml
var modelsYAML []byte

// Catalog is the dated table of the models promptml knows (models.yaml):
// lifecycle, locations, thinking controls and list prices, with sources.
type Catalog struct {
	// AsOf is the day the table was recorded.
	AsOf Date `yaml:"as_of"`
	// Sources name where each kind of fact came from.
	Sources map[string]string `yaml:"sources"`
	// Models are the known models.
	Models []CatalogModel `yaml:"models"`
}

// CatalogModel is one model of the catalog.
type CatalogModel struct {
	Name     string `yaml:"name"`
	Provider string `yaml:"provider"`
	// Stage is GA, preview or retired.
	Stage    string `yaml:"stage"`
	Released Date   `yaml:"released"`
	// Retires is the earliest retirement date a source gave; zero when
	// none is known.
	Retires   Date     `yaml:"retires"`
	Locations []string `yaml:"locations"`
	// ThinkingLevels are the thinking_level values the model accepts.
	ThinkingLevels  []string `yaml:"thinking_levels"`
	DefaultThinking string   `yaml:"default_thinking"`
	// Prices are the list prices by period; empty when unknown.
	Prices []PricePeriod `yaml:"prices"`
	Note   string        `yaml:"note"`
}

// PricePeriod is a list price valid from From to Until (inclusive; a zero
// bound is open).
type PricePeriod struct {
	From      Date `yaml:"from"`
	Until     Date `yaml:"until"`
	llm.Price `yaml:",inline"`
}

// Date is a calendar day (YYYY-MM-DD) in UTC.
type Date struct{ time.Time }

// UnmarshalYAML reads YYYY-MM-DD.
func (d *Date) UnmarshalYAML(b []byte) error {
	var s string
	if err := yaml.Unmarshal(b, &s); err != nil {
		return err
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	d.Time = t
	return nil
}

// String is YYYY-MM-DD, or "unknown" for the zero date.
func (d Date) String() string {
	if d.IsZero() {
		return "unknown"
	}
	return d.Format(time.DateOnly)
}

var (
	catalogOnce sync.Once
	catalog     Catalog
)

// Models returns the embedded model catalog.
func Models() Catalog {
	catalogOnce.Do(func() {
		if err := yaml.UnmarshalWithOptions(modelsYAML, &catalog, yaml.DisallowUnknownField()); err != nil {
			// Embedded and covered by tests.
			panic(fmt.Sprintf("config: embedded models.yaml: %v", err))
		}
	})
	return catalog
}

// Lookup finds a model by name.
func (c Catalog) Lookup(name string) (CatalogModel, bool) {
	for _, m := range c.Models {
		if m.Name == name {
			return m, true
		}
	}
	return CatalogModel{}, false
}

// accessBlockedBefore is how long before its retirement Vertex AI stops
// giving new projects access to a model (lifecycle page: "One month before
// the retirement date, new access to the model is blocked").
const accessBlockedBefore = 31 * 24 * time.Hour

// Usable reports why the model should not be named by a default at t: it is
// retired, or new access is blocked because retirement is less than a month
// away. nil when the catalog knows no reason.
func (m CatalogModel) Usable(t time.Time) error {
	if m.Stage == "retired" {
		return fmt.Errorf("model %s is retired (since %s)", m.Name, m.Retires)
	}
	if m.Retires.IsZero() {
		return nil
	}
	if !t.Before(m.Retires.Time) {
		return fmt.Errorf("model %s retired on %s", m.Name, m.Retires)
	}
	if !t.Before(m.Retires.Add(-accessBlockedBefore)) {
		return fmt.Errorf("model %s retires on %s: new access is blocked a month before", m.Name, m.Retires)
	}
	return nil
}

// PriceAt is the model's list price valid on day t.
func (m CatalogModel) PriceAt(t time.Time) (llm.Price, bool) {
	day := t.UTC().Truncate(24 * time.Hour)
	for _, p := range m.Prices {
		if !p.From.IsZero() && day.Before(p.From.Time) {
			continue
		}
		if !p.Until.IsZero() && day.After(p.Until.Time) {
			continue
		}
		return p.Price, true
	}
	return llm.Price{}, false
}

// PricesAt is the default price table on day t: every model not retired
// whose list price is known for that day, by name.
func (c Catalog) PricesAt(t time.Time) map[string]llm.Price {
	out := map[string]llm.Price{}
	for _, m := range c.Models {
		if m.Stage == "retired" {
			continue
		}
		if p, ok := m.PriceAt(t); ok {
			out[m.Name] = p
		}
	}
	return out
}

// Names lists the catalog's model names, sorted.
func (c Catalog) Names() []string {
	out := make([]string, 0, len(c.Models))
	for _, m := range c.Models {
		out = append(out, m.Name)
	}
	sort.Strings(out)
	return out
}
