package config

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Reply formats of primary.response_mime_type.
const (
	MIMEText = "text/plain"
	MIMEJSON = "application/json"
)

// validateResponse checks the structured-output settings: a known format,
// a schema only with JSON, a schema that compiles, and neither on the
// optimizer model, whose reply format is the optimizer's own.
func (r Run) validateResponse(bad func(path, format string, args ...any)) {
	o := r.Optimizer.Model
	if o.ResponseMIMEType != "" || o.ResponseSchema != nil {
		bad("optimizer.model", "response_mime_type and response_schema are for the primary model only: the optimizer asks for its own reply format")
	}
	p := r.Primary
	switch p.ResponseMIMEType {
	case "", MIMEText, MIMEJSON:
	default:
		bad("primary.response_mime_type", "must be %s or %s, got %q", MIMEText, MIMEJSON, p.ResponseMIMEType)
	}
	if p.ResponseSchema == nil {
		return
	}
	if p.ResponseMIMEType != MIMEJSON {
		bad("primary.response_schema", "needs response_mime_type: %s", MIMEJSON)
	}
	if err := CompileSchema(p.ResponseSchema); err != nil {
		bad("primary.response_schema", "%v", err)
	}
}

// CompileSchema reports why schema is not a usable JSON Schema (draft
// 2020-12 unless its $schema says otherwise). No $ref is loaded: a
// configuration must never make the service read files or the network.
func CompileSchema(schema map[string]any) error {
	b, err := json.Marshal(schema)
	if err != nil {
		return fmt.Errorf("cannot be encoded as JSON: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(jsonschema.SchemeURLLoader{})
	const loc = "mem:///response_schema.json"
	if err := c.AddResource(loc, doc); err != nil {
		return fmt.Errorf("not a JSON Schema: %w", err)
	}
	if _, err := c.Compile(loc); err != nil {
		return fmt.Errorf("not a valid JSON Schema: %s", oneLine(err.Error()))
	}
	return nil
}
