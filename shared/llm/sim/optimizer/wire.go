package optimizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The data block's delimiters, as docs/architecture.md documents the
// optimizer request's wire format. The simulator parses the format itself
// rather than import shared/optimize: a model knows a request only by what
// it says.
const (
	beginData = "<<<PROMPTML_DATA_BEGIN>>>"
	endData   = "<<<PROMPTML_DATA_END>>>"
)

// example is one scored training example of the data block.
type example struct {
	Input    string  `json:"input"`
	Expected string  `json:"expected"`
	Actual   string  `json:"actual"`
	Score    float64 `json:"score"`
	Kind     string  `json:"kind,omitempty"`
	// Feedback is an evaluator's comment, when the block carries one.
	Feedback string `json:"feedback,omitempty"`
}

// poolExample is a demonstration the fewshot strategy may pick by id.
type poolExample struct {
	ID      string `json:"id"`
	Input   string `json:"input"`
	Output  string `json:"output"`
	Failed  bool   `json:"failed"`
	Current bool   `json:"current,omitempty"`
}

// historyEntry is one earlier candidate and its validation score.
type historyEntry struct {
	SystemPrompt string  `json:"system_prompt"`
	OutputPrompt string  `json:"output_prompt"`
	Demos        int     `json:"demos,omitempty"`
	Strategy     string  `json:"strategy,omitempty"`
	ValScore     float64 `json:"val_score"`
	Accepted     bool    `json:"accepted"`
}

// data is the JSON object between the delimiters.
type data struct {
	Strategy      string         `json:"strategy"`
	SystemPrompt  string         `json:"system_prompt"`
	OutputPrompt  string         `json:"output_prompt"`
	Pool          []poolExample  `json:"pool,omitempty"`
	MaxDemos      int            `json:"max_demos,omitempty"`
	PreviousError string         `json:"previous_error,omitempty"`
	Failures      []example      `json:"failures"`
	Passing       []example      `json:"passing,omitempty"`
	History       []historyEntry `json:"history,omitempty"`
	Candidate     int            `json:"candidate"`
	Metrics       struct {
		Mean float64 `json:"mean"`
	} `json:"metrics"`
}

// errNoData: the request holds no data block.
var errNoData = errors.New("no data block")

// split returns the data block decoded and the request text around it (the
// meta-prompt), which is what says what the caller wants.
func split(text string) (data, string, error) {
	i := strings.Index(text, beginData)
	j := strings.LastIndex(text, endData)
	if i < 0 || j < i {
		return data{}, text, errNoData
	}
	var d data
	if err := json.Unmarshal([]byte(text[i+len(beginData):j]), &d); err != nil {
		return data{}, text, fmt.Errorf("decode data block: %w", err)
	}
	return d, text[:i] + text[j+len(endData):], nil
}

// Reply shapes, named after the JSON field that makes each one.
const (
	shapeRewrite = "rewrite"
	shapeEdit    = "edit"
	shapeFewShot = "fewshot"
)

// edit is one change of an edit reply.
type edit struct {
	Op     string `json:"op"`
	Target string `json:"target"`
	Quote  string `json:"quote"`
	Text   string `json:"text,omitempty"`
}

// reply is the JSON the optimizer answers; only the fields of its shape are
// set.
type reply struct {
	SystemPrompt *string  `json:"system_prompt,omitempty"`
	OutputPrompt *string  `json:"output_prompt,omitempty"`
	Edits        []edit   `json:"edits,omitempty"`
	Demos        []string `json:"demos,omitempty"`
	Reasoning    string   `json:"reasoning"`
}

// schemaShape reads the shape a response schema enforces from its
// properties, "" when there is no schema or it is none of the three.
func schemaShape(schema map[string]any) string {
	props, _ := schema["properties"].(map[string]any)
	switch {
	case props == nil:
		return ""
	case props["edits"] != nil:
		return shapeEdit
	case props["demos"] != nil:
		return shapeFewShot
	case props["output_prompt"] != nil || props["system_prompt"] != nil:
		return shapeRewrite
	}
	return ""
}

// askedShape reads the shape the meta-prompt describes ("Answer with JSON
// only, in this shape: {...}"), "" when it describes none.
func askedShape(meta string) string {
	switch {
	case strings.Contains(meta, `"edits"`):
		return shapeEdit
	case strings.Contains(meta, `"demos"`):
		return shapeFewShot
	case strings.Contains(meta, `"output_prompt"`), strings.Contains(meta, `"system_prompt"`):
		return shapeRewrite
	}
	return ""
}
