package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func init() {
	register("json_match", newJSONMatch)
	register("json_schema", newJSONSchema)
}

// stripFences removes a Markdown code fence around a JSON answer (```json …
// ```), which models add even when told not to.
func stripFences(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "```") {
		return s
	}
	s = strings.TrimPrefix(s, "```")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:] // drops the info string, e.g. "json"
	} else {
		s = ""
	}
	s = strings.TrimSpace(s)
	return strings.TrimSpace(strings.TrimSuffix(s, "```"))
}

// parseJSON decodes one JSON value, rejecting trailing data.
func parseJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if rest := s[dec.InputOffset():]; strings.TrimSpace(rest) != "" {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

// jsonMatch compares the fields of two JSON objects.
type jsonMatch struct {
	base
	fields      [][]string // dotted paths split; nil means every top-level key of the reference
	strict      bool
	stripFences bool
}

// newJSONMatch: options fields (list of keys, dotted for nested objects, e.g.
// "address.city"; default every top-level key of the reference), strict
// (false; true counts keys the prediction has and the reference lacks as
// mismatches), strip_fences (true), threshold (1).
func newJSONMatch(o *options, _ Deps) Metric {
	m := &jsonMatch{base: base{name: "json_match", threshold: 1}, strict: o.bool("strict", false), stripFences: o.bool("strip_fences", true)}
	if fs, ok := o.strings("fields"); ok {
		if len(fs) == 0 {
			o.fail("fields", "must not be empty")
		}
		for _, f := range fs {
			m.fields = append(m.fields, strings.Split(f, "."))
		}
	}
	return m
}

// lookup follows a path through nested objects.
func lookup(v any, path []string) (any, bool) {
	for _, k := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// Score implements Metric: the fraction of fields whose values are equal
// (deeply, key order ignored, numbers by value). A prediction that is not
// JSON scores 0; a reference that is not JSON is an error (bad ground truth).
func (m *jsonMatch) Score(_ context.Context, prediction, reference string) (Score, error) {
	ref, err := parseJSON(reference)
	if err != nil {
		return Score{}, fmt.Errorf("json_match: reference is not JSON: %w", err)
	}
	p := prediction
	if m.stripFences {
		p = stripFences(p)
	}
	pred, err := parseJSON(p)
	if err != nil {
		return Score{Value: 0, Explanation: "prediction is not JSON: " + err.Error()}, nil
	}
	paths := m.fields
	refObj, refIsObj := ref.(map[string]any)
	if paths == nil {
		if !refIsObj {
			// A scalar or array reference is one field: the whole value.
			if reflect.DeepEqual(pred, ref) {
				return Score{Value: 1}, nil
			}
			return Score{Value: 0, Explanation: "value differs"}, nil
		}
		keys := make([]string, 0, len(refObj))
		for k := range refObj {
			keys = append(keys, k)
		}
		if m.strict {
			if predObj, ok := pred.(map[string]any); ok {
				for k := range predObj {
					if _, inRef := refObj[k]; !inRef {
						keys = append(keys, k)
					}
				}
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			paths = append(paths, []string{k})
		}
	}
	if len(paths) == 0 {
		// {} against {}: nothing to compare, the answer has every field asked.
		_, predIsObj := pred.(map[string]any)
		return Score{Value: boolScore(predIsObj)}, nil
	}
	var wrong []string
	for _, path := range paths {
		rv, rok := lookup(ref, path)
		pv, pok := lookup(pred, path)
		if rok != pok || !reflect.DeepEqual(rv, pv) {
			wrong = append(wrong, strings.Join(path, "."))
		}
	}
	s := Score{Value: float64(len(paths)-len(wrong)) / float64(len(paths))}
	if len(wrong) > 0 {
		s.Explanation = "fields differ: " + strings.Join(wrong, ", ")
	}
	return s, nil
}

// jsonSchema validates the prediction against a schema from the config.
type jsonSchema struct {
	base
	schema      *jsonschema.Schema
	stripFences bool
}

// newJSONSchema: options schema (required: a JSON Schema as a mapping or a
// JSON string; draft 2020-12 unless it says otherwise in $schema; $ref to
// other documents is not loaded), strip_fences (true), threshold (1).
func newJSONSchema(o *options, _ Deps) Metric {
	m := &jsonSchema{base: base{name: "json_schema", threshold: 1}, stripFences: o.bool("strip_fences", true)}
	raw, ok := o.get("schema")
	if !ok {
		o.fail("schema", "required")
		return m
	}
	var doc any
	if s, isString := raw.(string); isString {
		var err error
		if doc, err = jsonschema.UnmarshalJSON(strings.NewReader(s)); err != nil {
			o.fail("schema", "not valid JSON: "+err.Error())
			return m
		}
	} else {
		b, err := json.Marshal(normalizeJSON(raw))
		if err != nil {
			o.fail("schema", "cannot encode as JSON: "+err.Error())
			return m
		}
		if doc, err = jsonschema.UnmarshalJSON(bytes.NewReader(b)); err != nil {
			o.fail("schema", err.Error())
			return m
		}
	}
	c := jsonschema.NewCompiler()
	// No loader: a schema must never make the evaluator read files or the
	// network.
	c.UseLoader(jsonschema.SchemeURLLoader{})
	const loc = "mem:///schema.json"
	if err := c.AddResource(loc, doc); err != nil {
		o.fail("schema", err.Error())
		return m
	}
	sch, err := c.Compile(loc)
	if err != nil {
		o.fail("schema", err.Error())
		return m
	}
	m.schema = sch
	return m
}

// Score implements Metric: 1 when the prediction is JSON valid against the
// schema, else 0 with the validation error as the explanation. The reference
// is not used.
func (m *jsonSchema) Score(_ context.Context, prediction, _ string) (Score, error) {
	p := prediction
	if m.stripFences {
		p = stripFences(p)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(p))
	if err != nil {
		return Score{Value: 0, Explanation: "prediction is not JSON: " + err.Error()}, nil
	}
	if err := m.schema.Validate(inst); err != nil {
		return Score{Value: 0, Explanation: oneLine(err.Error())}, nil
	}
	return Score{Value: 1}, nil
}

// oneLine squeezes a multi-line message into one line for an explanation.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
