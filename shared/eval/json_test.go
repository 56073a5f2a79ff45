package eval

import (
	"strings"
	"testing"
)

func TestJSONMatch(t *testing.T) {
	ref := `{"name": "Ada", "age": 36, "address": {"city": "London", "zip": "N1"}, "tags": ["a", "b"]}`
	runScoreCases(t, "json_match", 1e-12, []scoreCase{
		{name: "identical, key order ignored", prediction: `{"tags":["a","b"],"age":36,"address":{"zip":"N1","city":"London"},"name":"Ada"}`, reference: ref, want: 1},
		{name: "number forms equal", prediction: `{"name":"Ada","age":36.0,"address":{"city":"London","zip":"N1"},"tags":["a","b"]}`, reference: ref, want: 1},
		{name: "one of four wrong", prediction: `{"name":"Ada","age":37,"address":{"city":"London","zip":"N1"},"tags":["a","b"]}`, reference: ref, want: 0.75},
		{name: "missing field", prediction: `{"name":"Ada","age":36,"tags":["a","b"]}`, reference: ref, want: 0.75},
		{name: "array order matters", prediction: `{"name":"Ada","age":36,"address":{"city":"London","zip":"N1"},"tags":["b","a"]}`, reference: ref, want: 0.75},
		{name: "extra key ignored", prediction: `{"name":"Ada","age":36,"address":{"city":"London","zip":"N1"},"tags":["a","b"],"x":1}`, reference: ref, want: 1},
		{name: "extra key strict", options: map[string]any{"strict": true}, prediction: `{"name":"Ada","age":36,"address":{"city":"London","zip":"N1"},"tags":["a","b"],"x":1}`, reference: ref, want: 0.8},
		{name: "fields subset", options: map[string]any{"fields": []any{"name", "address.city"}}, prediction: `{"name":"Ada","address":{"city":"London"}}`, reference: ref, want: 1},
		{name: "fields comma string", options: map[string]any{"fields": "name,address.zip"}, prediction: `{"name":"Ada","address":{"city":"London"}}`, reference: ref, want: 0.5},
		{name: "fenced", prediction: "```json\n{\"a\": 1}\n```", reference: `{"a":1}`, want: 1},
		{name: "not json", prediction: "Ada, 36", reference: ref, want: 0},
		{name: "trailing text", prediction: `{"a":1} and more`, reference: `{"a":1}`, want: 0},
		{name: "empty prediction", prediction: "", reference: `{"a":1}`, want: 0},
		{name: "scalar reference", prediction: "3", reference: "3.0", want: 1},
		{name: "array reference", prediction: `[1,2]`, reference: `[1,2]`, want: 1},
		{name: "empty objects", prediction: `{}`, reference: `{}`, want: 1},
		{name: "object vs empty reference object", prediction: `[]`, reference: `{}`, want: 0},
		{name: "unicode values", prediction: `{"city":"東京"}`, reference: `{"city":"\u6771\u4eac"}`, want: 1},
		{name: "null equals null", prediction: `{"a":null}`, reference: `{"a":null}`, want: 1},
		{name: "null vs missing", prediction: `{}`, reference: `{"a":null}`, want: 0},
	})
}

func TestJSONMatchBadReferenceIsAnError(t *testing.T) {
	m, err := Build([]Spec{{Name: "json_match"}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Score(t.Context(), `{}`, "not json"); err == nil {
		t.Error("Score with a non-JSON reference succeeded, want an error")
	}
}

func TestJSONSchema(t *testing.T) {
	schema := map[string]any{
		"type":     "object",
		"required": []any{"answer", "confidence"},
		"properties": map[string]any{
			"answer":     map[string]any{"type": "string", "minLength": 1},
			"confidence": map[string]any{"type": "number", "minimum": 0, "maximum": 1},
		},
		"additionalProperties": false,
	}
	// YAML decoders give map[any]any and uint64: they must work too.
	yamlSchema := map[string]any{
		"type":       "object",
		"properties": map[any]any{"n": map[any]any{"type": "integer", "maximum": uint64(3)}},
	}
	stringSchema := `{"type":"array","items":{"type":"integer"}}`
	runScoreCases(t, "json_schema", 0, []scoreCase{
		{name: "valid", options: map[string]any{"schema": schema}, prediction: `{"answer":"Paris","confidence":0.9}`, want: 1},
		{name: "missing required", options: map[string]any{"schema": schema}, prediction: `{"answer":"Paris"}`, want: 0},
		{name: "out of range", options: map[string]any{"schema": schema}, prediction: `{"answer":"Paris","confidence":2}`, want: 0},
		{name: "additional property", options: map[string]any{"schema": schema}, prediction: `{"answer":"Paris","confidence":1,"x":1}`, want: 0},
		{name: "fenced", options: map[string]any{"schema": schema}, prediction: "```\n{\"answer\":\"é\",\"confidence\":0}\n```", want: 1},
		{name: "not json", options: map[string]any{"schema": schema}, prediction: "Paris", want: 0},
		{name: "empty", options: map[string]any{"schema": schema}, prediction: "", want: 0},
		{name: "yaml-decoded schema", options: map[string]any{"schema": yamlSchema}, prediction: `{"n":3}`, want: 1},
		{name: "yaml-decoded schema fails", options: map[string]any{"schema": yamlSchema}, prediction: `{"n":4}`, want: 0},
		{name: "schema as JSON string", options: map[string]any{"schema": stringSchema}, prediction: `[1,2,3]`, want: 1},
		{name: "schema as JSON string fails", options: map[string]any{"schema": stringSchema}, prediction: `[1,"2"]`, want: 0},
	})
}

func TestJSONSchemaExplainsFailure(t *testing.T) {
	m, err := Build([]Spec{{Name: "json_schema", Options: map[string]any{"schema": map[string]any{"type": "object", "required": []any{"answer"}}}}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Score(t.Context(), `{}`, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Value != 0 || !strings.Contains(s.Explanation, "answer") {
		t.Errorf("Score = %+v, want 0 with an explanation naming the missing property", s)
	}
}

func TestJSONSchemaDoesNotLoadRefs(t *testing.T) {
	_, err := Build([]Spec{{Name: "json_schema", Options: map[string]any{"schema": map[string]any{"$ref": "file:///etc/passwd"}}}}, Deps{})
	if err == nil {
		t.Error("Build with a schema referencing a file succeeded, want an error")
	}
}
