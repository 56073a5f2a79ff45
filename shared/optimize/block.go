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

// LowestScoringPasses is Data.FailuresAre when nothing fails on train: the
// optimizer reads it next to the examples, so it says in words what they
// are (issue 17 item 4: they used to be sent, and called, failures).
const LowestScoringPasses = "lowest-scoring passing examples: no training example scores below the metric's threshold, so none of these is a failure"

// Example is one scored training example as the optimizer sees it.
type Example struct {
	// Input is the user turn the model saw: the user template filled with
	// the example's variables.
	Input string `json:"input"`
	// Vars are the example's other variables (its columns besides
	// user_input), by name; absent when the dataset has none.
	Vars     map[string]string `json:"vars,omitempty"`
	Expected string            `json:"expected"`
	Actual   string            `json:"actual"`
	Score    float64           `json:"score"`
	// Kind is the error kind of a failure (see Classify), "" for a success.
	Kind string `json:"kind,omitempty"`
}

// Demo is a few-shot demonstration: a training input with its ground truth.
type Demo struct {
	Input  string `json:"input"`
	Output string `json:"output"`
}

// PoolExample is a training example the fewshot strategy may pick as a
// demonstration, by ID.
type PoolExample struct {
	ID    string `json:"id"`
	Input string `json:"input"`
	// Vars are the example's other variables, as in Example.
	Vars   map[string]string `json:"vars,omitempty"`
	Output string            `json:"output"`
	// Failed: the incumbent gets this example wrong.
	Failed bool `json:"failed"`
	// Current: the example is already a demonstration of the incumbent.
	Current bool `json:"current,omitempty"`
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
	SystemPrompt string `json:"system_prompt"`
	OutputPrompt string `json:"output_prompt"`
	// Demos is the number of demonstrations the candidate carried.
	Demos    int     `json:"demos,omitempty"`
	Strategy string  `json:"strategy,omitempty"`
	ValScore float64 `json:"val_score"`
	Accepted bool    `json:"accepted"`
}

// Data is the JSON inside the data block of an optimizer request.
type Data struct {
	// Strategy is the optimizer strategy asked for: rewrite, edit or
	// fewshot.
	Strategy string `json:"strategy"`
	// SystemPrompt and OutputPrompt are the current (incumbent) prompts.
	SystemPrompt string `json:"system_prompt"`
	OutputPrompt string `json:"output_prompt"`
	// Variables are the dataset's columns the prompts may name as
	// {{name}}, and UserTemplate the template of the user turn (fixed: not
	// the optimizer's to change). Both are absent for a dataset whose only
	// variable is user_input under the default user template, so that such
	// a request reads as it did before templates.
	Variables    []string `json:"variables,omitempty"`
	UserTemplate string   `json:"user_template,omitempty"`
	// Examples are the incumbent's demonstrations.
	Examples []Demo `json:"examples,omitempty"`
	// Pool holds the training examples the fewshot strategy picks from.
	Pool []PoolExample `json:"pool,omitempty"`
	// MaxDemos is the most demonstrations a fewshot reply may pick.
	MaxDemos int `json:"max_demos,omitempty"`
	// PreviousError is why the previous reply to this same request was
	// rejected (unparsable, invalid, or edits that do not apply), so the
	// optimizer can correct it. Empty on the first try.
	PreviousError string `json:"previous_error,omitempty"`
	// Metrics are the incumbent's training metrics.
	Metrics Metrics `json:"metrics"`
	// Failures are the incumbent's worst training examples: its failures,
	// or, when nothing fails, its lowest-scoring passes (FailuresAre says
	// so).
	Failures []Example `json:"failures"`
	// FailuresAre labels Failures when they are not failures:
	// LowestScoringPasses when no training example scores below the
	// metric's threshold. Empty (left out) when they are failures, so
	// such a request is the same as before the field existed.
	FailuresAre string `json:"failures_are,omitempty"`
	// History holds earlier candidates, worst to best.
	History []HistoryEntry `json:"history,omitempty"`
	// Candidate is the index of this candidate within the epoch (0-based),
	// so K parallel proposals can differ.
	Candidate int `json:"candidate"`
	// Epoch is the epoch the proposal is for. An epoch whose other fields
	// repeat an earlier one's (nothing was scored in between) is still a
	// new request, never answered from the response cache with the earlier
	// epoch's reply.
	Epoch int `json:"epoch,omitempty"`
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
