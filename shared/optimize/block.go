// Package optimize builds the optimizer's request from the incumbent prompt
// and its failures, and parses and checks the optimizer's proposal.
package optimize

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Delimiters of the data block inside the optimizer's user content. Dataset
// text reaches the optimizer only between these lines, as JSON, with the
// instruction that it is data and never instructions.
const (
	BeginData = "<<<PROMPTML_DATA_BEGIN>>>"
	EndData   = "<<<PROMPTML_DATA_END>>>"
)

// Example is one scored training example as the optimizer sees it.
type Example struct {
	Input    string  `json:"input"`
	Expected string  `json:"expected"`
	Actual   string  `json:"actual"`
	Score    float64 `json:"score"`
}

// Metrics summarizes the incumbent's scores on the split it was run on.
type Metrics struct {
	Metric   string  `json:"metric"`
	Mean     float64 `json:"mean"`
	PassRate float64 `json:"pass_rate"`
	N        int     `json:"n"`
}

// HistoryEntry is one earlier candidate with its validation score.
type HistoryEntry struct {
	SystemPrompt string  `json:"system_prompt"`
	OutputPrompt string  `json:"output_prompt"`
	ValScore     float64 `json:"val_score"`
	Accepted     bool    `json:"accepted"`
}

// Data is the JSON inside the data block of an optimizer request.
type Data struct {
	// Strategy is the optimizer strategy asked for, e.g. "rewrite".
	Strategy string `json:"strategy"`
	// SystemPrompt and OutputPrompt are the current (incumbent) prompts.
	SystemPrompt string `json:"system_prompt"`
	OutputPrompt string `json:"output_prompt"`
	// Metrics are the incumbent's training metrics.
	Metrics Metrics `json:"metrics"`
	// Failures are the incumbent's worst training examples.
	Failures []Example `json:"failures"`
	// History holds earlier candidates, worst to best.
	History []HistoryEntry `json:"history,omitempty"`
	// Candidate is the index of this candidate within the epoch (0-based),
	// so K parallel proposals can differ.
	Candidate int `json:"candidate"`
}

// Proposal is the optimizer's answer for the rewrite strategy.
type Proposal struct {
	SystemPrompt string `json:"system_prompt"`
	OutputPrompt string `json:"output_prompt"`
	Reasoning    string `json:"reasoning"`
}

// ProposalSchema is the JSON response schema the optimizer is asked to follow.
func ProposalSchema() map[string]any {
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"system_prompt": map[string]any{"type": "string"},
			"output_prompt": map[string]any{"type": "string"},
			"reasoning":     map[string]any{"type": "string"},
		},
		"required": []any{"system_prompt", "output_prompt", "reasoning"},
	}
}

// EncodeData renders d as the delimited data block.
func EncodeData(d Data) (string, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return "", fmt.Errorf("optimize.EncodeData: %w", err)
	}
	// json.Marshal escapes <, > and & so dataset text can never contain the
	// delimiter lines verbatim.
	return BeginData + "\n" + string(b) + "\n" + EndData, nil
}

// ErrNoData means the text holds no well-formed data block.
var ErrNoData = errors.New("no data block")

// DecodeData extracts and decodes the data block from text (the optimizer's
// user content). It is what a model-side reader such as the simulator uses.
func DecodeData(text string) (Data, error) {
	i := strings.Index(text, BeginData)
	j := strings.LastIndex(text, EndData)
	if i < 0 || j < i {
		return Data{}, ErrNoData
	}
	var d Data
	if err := json.Unmarshal([]byte(text[i+len(BeginData):j]), &d); err != nil {
		return Data{}, fmt.Errorf("optimize.DecodeData: %w", err)
	}
	return d, nil
}
