package optimize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/promptml/promptml/prompts"
	"github.com/promptml/promptml/shared/llm"
)

// generator is the model the optimizer calls.
type generator interface {
	Generate(ctx context.Context, req *llm.Request) (*llm.Response, error)
}

// Request is what one proposal needs.
type Request struct {
	// MetaPrompt overrides the strategy's embedded meta-prompt when set.
	MetaPrompt  string
	Model       string
	Temperature float64
	// MaxOutputTokens caps the reply (0 = provider default).
	MaxOutputTokens int
	// Thinking is the optimizer model's thinking control (nil: the model's
	// default).
	Thinking *llm.Thinking
	// MaxTries is how many replies are asked for before giving up on an
	// unparsable or invalid one (0 = 1).
	MaxTries int
	Data     Data
	// OnRetry, when set, is called before each re-ask with the try that
	// failed (1-based) and why, for logging.
	OnRetry func(try int, err *ParseError)
}

// Candidate is a proposal turned into complete prompts: edits applied,
// demonstrations resolved.
type Candidate struct {
	System string
	// User is the user template: the incumbent's, unless the optimizer may
	// change it (Data.EditUserTemplate) and did.
	User      string
	Output    string
	Examples  []Demo
	Reasoning string
	// Tries is how many replies it took.
	Tries int
}

// Propose asks the optimizer model for one candidate of Data.Strategy. A
// reply that cannot be parsed, fails validation or whose edits do not apply
// is asked for again with the error shown in the data block
// (Data.PreviousError), up to MaxTries; after that the last one is returned
// as a *ParseError (with Tries set). Model errors are returned at once,
// wrapped, for the caller to classify (errors.As finds the *llm.Error).
func Propose(ctx context.Context, gen generator, req Request) (Candidate, llm.Usage, error) {
	meta := req.MetaPrompt
	if meta == "" {
		var err error
		if meta, err = prompts.Optimizer(req.Data.Strategy); err != nil {
			return Candidate{}, llm.Usage{}, err
		}
	}
	tries := max(req.MaxTries, 1)
	var usage llm.Usage
	d := req.Data
	var last *ParseError
	for try := 1; try <= tries; try++ {
		block, err := EncodeData(d)
		if err != nil {
			return Candidate{}, usage, err
		}
		temp := req.Temperature
		resp, err := gen.Generate(ctx, &llm.Request{
			Model:           req.Model,
			Prompt:          strings.Replace(meta, "{{DATA}}", block, 1),
			Temperature:     &temp,
			MaxOutputTokens: req.MaxOutputTokens,
			Thinking:        req.Thinking,
			ResponseSchema:  proposalSchema(d),
			Purpose:         "optimizer",
			// A re-ask may repeat the previous request word for word (the
			// same error again): a distinct sample keeps the response
			// cache from answering it with the reply just rejected.
			Sample: try - 1,
		})
		if err != nil {
			return Candidate{}, usage, fmt.Errorf("optimize.Propose: %w", err)
		}
		usage = usage.Add(resp.Usage)
		c, err := Build(d, resp.Text)
		if err == nil {
			c.Tries = try
			return c, usage, nil
		}
		if !errors.As(err, &last) {
			return Candidate{}, usage, err
		}
		d.PreviousError = last.Reason
		if req.OnRetry != nil && try < tries {
			req.OnRetry(try, last)
		}
	}
	last.Tries = tries
	return Candidate{}, usage, last
}

// Build parses an optimizer reply for d.Strategy and turns it into a
// candidate: a rewrite is taken as is, edits are applied to the current
// prompts, picked demonstrations are looked up in the pool. Anything wrong
// is a *ParseError whose Reason is shown to the optimizer on the next try.
func Build(d Data, text string) (Candidate, error) {
	p, err := ParseReply(d.Strategy, text)
	if err != nil {
		return Candidate{}, err
	}
	c := Candidate{System: d.SystemPrompt, User: d.UserTemplate, Output: d.OutputPrompt, Examples: d.Examples, Reasoning: p.Reasoning}
	switch d.Strategy {
	case StrategyEdit:
		targets := map[string]*string{"system_prompt": &c.System, "output_prompt": &c.Output}
		if d.EditUserTemplate {
			targets["user_template"] = &c.User
		}
		if err = applyEdits(targets, p.Edits); err != nil {
			return Candidate{}, &ParseError{Reason: err.Error(), Text: text}
		}
	case StrategyFewShot:
		if c.Examples, err = pickDemos(d, p.Demos); err != nil {
			return Candidate{}, &ParseError{Reason: err.Error(), Text: text}
		}
	default:
		// A prompt the reply leaves out is kept, not wiped: a model that
		// ignores the response schema may send only the prompt it changed.
		var present struct {
			System *string `json:"system_prompt"`
			User   *string `json:"user_template"`
			Output *string `json:"output_prompt"`
		}
		if raw, ok := objectText(text); ok {
			_ = json.Unmarshal(raw, &present) // ParseReply already decoded it
		}
		if present.System != nil {
			c.System = p.SystemPrompt
		}
		if present.Output != nil {
			c.Output = p.OutputPrompt
		}
		if present.User != nil && d.EditUserTemplate {
			// Otherwise the user's data layout stays as written.
			c.User = p.UserTemplate
		}
	}
	return c, nil
}

// pickDemos resolves the pool IDs a fewshot reply picked, in its order.
func pickDemos(d Data, ids []string) ([]Demo, error) {
	byID := make(map[string]PoolExample, len(d.Pool))
	for _, e := range d.Pool {
		byID[e.ID] = e
	}
	if d.MaxDemos > 0 && len(ids) > d.MaxDemos {
		return nil, fmt.Errorf("%d demos picked, at most %d allowed", len(ids), d.MaxDemos)
	}
	seen := map[string]bool{}
	out := make([]Demo, 0, len(ids))
	var unknown []string
	for _, id := range ids {
		e, ok := byID[id]
		switch {
		case !ok:
			unknown = append(unknown, fmt.Sprintf("%q", id))
		case seen[id]:
		default:
			seen[id] = true
			out = append(out, Demo{Input: e.Input, Output: e.Output})
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("demo ids %s are not in the pool: pick ids from the pool only", strings.Join(unknown, ", "))
	}
	return out, nil
}

// ParseError is an optimizer reply that is not a valid proposal: not JSON,
// missing fields, unknown demo ids, or edits that do not apply.
type ParseError struct {
	Reason string
	Text   string
	// Tries is how many replies were asked for, when Propose gave up.
	Tries int
}

func (e *ParseError) Error() string {
	t := e.Text
	if len(t) > 200 {
		t = t[:200] + "…"
	}
	s := fmt.Sprintf("optimizer reply is not a valid proposal: %s (reply: %q)", e.Reason, t)
	if e.Tries > 0 {
		s = fmt.Sprintf("after %d tries, %s", e.Tries, s)
	}
	return s
}

var (
	fence         = regexp.MustCompile("(?s)^\\s*```[a-zA-Z]*\\s*\n(.*?)\n?```\\s*$")
	trailingComma = regexp.MustCompile(`,\s*([}\]])`)
)

// ParseProposal parses a rewrite reply; see ParseReply.
func ParseProposal(text string) (Proposal, error) { return ParseReply(StrategyRewrite, text) }

// ParseReply parses the optimizer's JSON reply for a strategy tolerantly:
// code fences, text around the object and trailing commas are accepted. It
// checks that the fields the strategy needs are there.
func ParseReply(strategy, text string) (Proposal, error) {
	var p Proposal
	raw, _ := objectText(text)
	if err := json.Unmarshal(raw, &p); err != nil {
		return Proposal{}, &ParseError{Reason: "not a JSON object: " + err.Error(), Text: text}
	}
	switch strategy {
	case StrategyEdit:
		if len(p.Edits) == 0 {
			return Proposal{}, &ParseError{Reason: `"edits" is missing or empty`, Text: text}
		}
	case StrategyFewShot:
		if len(p.Demos) == 0 {
			return Proposal{}, &ParseError{Reason: `"demos" is missing or empty`, Text: text}
		}
	default:
		if strings.TrimSpace(p.SystemPrompt) == "" && strings.TrimSpace(p.OutputPrompt) == "" {
			return Proposal{}, &ParseError{Reason: "system_prompt and output_prompt are both empty", Text: text}
		}
	}
	return p, nil
}

// objectText finds the JSON object in a reply, tolerantly: inside a code
// fence, surrounded by text, or with trailing commas. ok is false when the
// text is not valid JSON even so; the text returned then is the candidate
// object as found, for the caller's error message.
func objectText(text string) (raw []byte, ok bool) {
	s := strings.TrimSpace(text)
	if m := fence.FindStringSubmatch(s); m != nil {
		s = m[1]
	}
	if i, j := strings.Index(s, "{"), strings.LastIndex(s, "}"); i >= 0 && j > i {
		s = s[i : j+1]
	}
	if json.Valid([]byte(s)) {
		return []byte(s), true
	}
	if t := trailingComma.ReplaceAllString(s, "$1"); json.Valid([]byte(t)) {
		return []byte(t), true
	}
	return []byte(s), false
}
