package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/spf13/pflag"

	"github.com/promptml/promptml/shared/config"
)

// configFlags are the run config of `run` and `local` as the user typed it:
// a file, then --set overrides, then --epochs.
type configFlags struct {
	// file is --config (for `local`, also the FILE.yaml next to the CSV
	// when --config is not given).
	file string
	// implicit says file was found next to the CSV, not typed.
	implicit bool
	// set are the --set PATH=VALUE overrides, in order.
	set []string
	// epochs is --epochs; 0 means not given.
	epochs int
}

// overrideFlags adds --set and --epochs, the same for `run` and `local`.
func (c *configFlags) overrideFlags(f *pflag.FlagSet) {
	f.StringArrayVar(&c.set, "set", nil, "override one config value, PATH=VALUE with a dotted PATH, e.g. --set epochs=3 (repeatable)")
	f.IntVar(&c.epochs, "epochs", 0, "number of epochs (same as --set epochs=N)")
}

// overrides reports whether --set or --epochs was given.
func (c configFlags) overrides() bool { return len(c.set) > 0 || c.epochs > 0 }

// String is the config as typed: "a.yaml --set epochs=3 --epochs 2".
func (c configFlags) String() string {
	var parts []string
	if c.file != "" {
		parts = append(parts, c.file)
	}
	for _, s := range c.set {
		parts = append(parts, "--set "+s)
	}
	if c.epochs > 0 {
		parts = append(parts, "--epochs "+strconv.Itoa(c.epochs))
	}
	return strings.Join(parts, " ")
}

// configLayer is one source of the config and the document it sets.
type configLayer struct {
	// source is what the user typed: "--config my.yaml", "--set a.b=c".
	source string
	doc    map[string]any
	data   []byte
}

// buildConfig merges the config file and the overrides into one document
// (nil when there is none) and validates it with shared/config, the
// package the API uses, before anything is uploaded (issue 17 item 6): a
// typo costs no upload and leaves no failed run behind. An error names the
// file or the flag the user typed (item 5), never the object the API would
// have stored.
func buildConfig(c configFlags) (map[string]any, error) {
	cfg := map[string]any{}
	var layers []configLayer
	if c.file != "" {
		b, err := os.ReadFile(c.file)
		if err != nil {
			return nil, &exitError{exitUsage, fmt.Errorf("--config: %w\n  Pass a YAML or JSON run config (see samples/*.yaml and docs/config.md)", err)}
		}
		if err := yaml.Unmarshal(b, &cfg); err != nil {
			return nil, &exitError{exitUsage, fmt.Errorf("--config %s is not valid YAML: %v\n  Fix the file (reference: docs/config.md)", c.file, err)}
		}
		if cfg == nil {
			cfg = map[string]any{}
		}
		source := "--config " + c.file
		if c.implicit {
			source = c.file
		}
		layers = append(layers, configLayer{source: source, doc: cfg, data: b})
	}
	type override struct{ source, kv string }
	var sets []override
	for _, s := range c.set {
		sets = append(sets, override{"--set " + s, s})
	}
	if c.epochs > 0 {
		sets = append(sets, override{"--epochs " + strconv.Itoa(c.epochs), fmt.Sprintf("epochs=%d", c.epochs)})
	}
	for _, s := range sets {
		path, raw, ok := strings.Cut(s.kv, "=")
		if !ok || path == "" {
			return nil, &exitError{exitUsage, fmt.Errorf("--set %q: want PATH=VALUE, e.g. --set epochs=3 or --set prompt.system='You are…'", s.kv)}
		}
		var v any
		if err := yaml.Unmarshal([]byte(raw), &v); err != nil {
			v = raw
		}
		keys := strings.Split(path, ".")
		if err := setPath(cfg, keys, v); err != nil {
			return nil, &exitError{exitUsage, fmt.Errorf("--set %s: %w", path, err)}
		}
		own := map[string]any{}
		_ = setPath(own, keys, v) // cannot fail: the same path fit cfg
		data, err := json.Marshal(own)
		if err != nil {
			return nil, &exitError{exitUsage, fmt.Errorf("%s: %w", s.source, err)}
		}
		layers = append(layers, configLayer{source: s.source, doc: own, data: data})
	}
	if err := validateConfig(layers); err != nil {
		return nil, err
	}
	if len(cfg) == 0 {
		return nil, nil
	}
	return cfg, nil
}

// validateConfig loads the layers over the embedded defaults as the API
// will (without the deployment's defaults and allowlist, which only the
// API knows) and turns a failure into a usage error that names the layer.
func validateConfig(layers []configLayer) error {
	if len(layers) == 0 {
		return nil
	}
	cl := make([]config.Layer, len(layers))
	for i, l := range layers {
		cl[i] = config.Layer{Source: l.source, Data: l.data}
	}
	_, err := config.Load(cl...)
	if err == nil {
		return nil
	}
	var lines []string
	for _, e := range flatten(err) {
		var fe *config.FieldError
		if errors.As(e, &fe) && fe.Source == "" {
			// A value checked after merging: blame the last layer that set it.
			fe.Source = blame(layers, fe.Path)
		}
		lines = append(lines, e.Error())
	}
	return &exitError{exitUsage, fmt.Errorf("invalid config: %s\n  Fix it (reference: docs/config.md); nothing was uploaded", strings.Join(lines, "\n  "))}
}

// flatten lists the errors of an errors.Join.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// blame is the source of the last layer that sets path (a FieldError
// path: "optimizer.strategy", "metrics[0].name", "split"), or "" when
// none does and the value is the defaults'.
func blame(layers []configLayer, path string) string {
	for i := len(layers) - 1; i >= 0; i-- {
		if hasPath(layers[i].doc, path) {
			return layers[i].source
		}
	}
	return ""
}

// hasPath reports whether doc sets path, a dotted path whose segments may
// carry list indexes ("metrics[1].name").
func hasPath(doc any, path string) bool {
	for _, seg := range strings.Split(path, ".") {
		key, idx, _ := strings.Cut(seg, "[")
		m, ok := doc.(map[string]any)
		if !ok {
			return false
		}
		if doc, ok = m[key]; !ok {
			return false
		}
		for idx != "" {
			var n string
			n, idx, _ = strings.Cut(idx, "]")
			idx = strings.TrimPrefix(idx, "[")
			i, err := strconv.Atoi(n)
			l, ok := doc.([]any)
			if err != nil || !ok || i < 0 || i >= len(l) {
				return false
			}
			doc = l[i]
		}
	}
	return true
}

// setPath sets m[p0][p1]…= v, creating maps on the way.
func setPath(m map[string]any, path []string, v any) error {
	for i, k := range path {
		if k == "" {
			return fmt.Errorf("empty path segment")
		}
		if i == len(path)-1 {
			m[k] = v
			return nil
		}
		next, ok := m[k].(map[string]any)
		if !ok {
			if m[k] != nil {
				return fmt.Errorf("%s is not a section", strings.Join(path[:i+1], "."))
			}
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	return nil
}
