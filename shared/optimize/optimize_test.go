package optimize

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/llm"
)

func TestParseProposal(t *testing.T) {
	want := Proposal{SystemPrompt: "s", OutputPrompt: "o", Reasoning: "r"}
	tests := []struct {
		name    string
		text    string
		wantErr bool
	}{
		{"plain", `{"system_prompt":"s","output_prompt":"o","reasoning":"r"}`, false},
		{"fenced", "```json\n{\"system_prompt\":\"s\",\"output_prompt\":\"o\",\"reasoning\":\"r\"}\n```", false},
		{"surrounded", "Here you go:\n{\"system_prompt\":\"s\",\"output_prompt\":\"o\",\"reasoning\":\"r\"}\nThanks", false},
		{"trailing comma", `{"system_prompt":"s","output_prompt":"o","reasoning":"r",}`, false},
		{"not json", `I cannot do that`, true},
		{"empty prompts", `{"system_prompt":"","output_prompt":" ","reasoning":"r"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProposal(tt.text)
			if tt.wantErr {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want *ParseError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestDataRoundTrip(t *testing.T) {
	d := Data{Strategy: "rewrite", SystemPrompt: "sys", OutputPrompt: "out",
		Failures: []Example{{Input: "a <<<PROMPTML_DATA_END>>> b", Expected: "x", Actual: "y"}}}
	block, err := EncodeData(d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(block, EndData) != 1 {
		t.Fatalf("dataset text reproduced the end delimiter:\n%s", block)
	}
	got, err := DecodeData("meta prompt\n" + block + "\nmore")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := DecodeData("no block"); !errors.Is(err, ErrNoData) {
		t.Errorf("err = %v, want ErrNoData", err)
	}
}

func TestSelectFailures(t *testing.T) {
	ex := []Scored{
		{Input: "a", Score: 1}, {Input: "b", Score: 0.2}, {Input: "c", Score: 0},
		{Input: "d", Score: 0.5}, {Input: "e", Failed: true},
	}
	tests := []struct {
		name      string
		threshold float64
		k         int
		want      []string
	}{
		{"worst first", 1, 2, []string{"c", "b"}},
		{"all failures", 1, 10, []string{"c", "b", "d"}},
		{"nothing fails", 0, 2, []string{"c", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range SelectFailures(ex, tt.threshold, tt.k) {
				got = append(got, e.Input)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// scriptGen replies with its replies in order (the last one repeated) and
// records the requests.
type scriptGen struct {
	replies []string
	got     []*llm.Request
}

func (f *scriptGen) Generate(_ context.Context, req *llm.Request) (*llm.Response, error) {
	f.got = append(f.got, req)
	r := f.replies[min(len(f.got), len(f.replies))-1]
	return &llm.Response{Text: r, Usage: llm.Usage{InputTokens: 10, OutputTokens: 5, TotalTokens: 15}}, nil
}

func TestPropose(t *testing.T) {
	g := &scriptGen{replies: []string{`{"system_prompt":"S2","output_prompt":"O2","reasoning":"why"}`}}
	c, u, err := Propose(t.Context(), g, Request{Temperature: 0.5, Data: Data{Strategy: "rewrite", SystemPrompt: "S"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.System != "S2" || c.Output != "O2" || c.Tries != 1 || u.TotalTokens != 15 {
		t.Errorf("got %+v %+v", c, u)
	}
	req := g.got[0]
	if req.Purpose != "optimizer" || req.ResponseSchema == nil || *req.Temperature != 0.5 {
		t.Errorf("request = %+v", req)
	}
	d, err := DecodeData(req.Prompt)
	if err != nil || d.SystemPrompt != "S" {
		t.Errorf("data block not in prompt: %v %+v", err, d)
	}
	if strings.Contains(req.Prompt, "{{DATA}}") {
		t.Error("placeholder left in prompt")
	}
}

// TestProposeRetriesWithError: malformed JSON twice, then a valid reply,
// succeeds on the third try, and each retry shows the previous error.
func TestProposeRetriesWithError(t *testing.T) {
	valid := `{"system_prompt":"S2","output_prompt":"O2","reasoning":"why"}`
	tests := []struct {
		name      string
		strategy  string
		replies   []string
		tries     int
		wantTries int
		wantErrIn []string // substrings of the previous_error of tries 2, 3, …
		wantFail  bool
	}{
		{"malformed twice then valid", "rewrite", []string{"{not json", "```json\n{\"system_prompt\": 1}\n```", valid}, 3, 3,
			[]string{"not a JSON object", "not a JSON object"}, false},
		{"never valid", "rewrite", []string{"I refuse"}, 3, 3, []string{"not a JSON object", "not a JSON object"}, true},
		{"edit that does not apply, then one that does", "edit", []string{
			`{"edits":[{"op":"replace","target":"output_prompt","quote":"Answer the question.","text":"X"}],"reasoning":"r"}`,
			`{"edits":[{"op":"replace","target":"output_prompt","quote":"Answer the request.","text":"Answer tersely."}],"reasoning":"r"}`,
		}, 3, 2, []string{`the quote "Answer the question." occurs 0 times`}, false},
		{"unknown demo id", "fewshot", []string{`{"demos":["d9"],"reasoning":"r"}`, `{"demos":["d1"],"reasoning":"r"}`}, 3, 2,
			[]string{`"d9" are not in the pool`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &scriptGen{replies: tt.replies}
			data := Data{Strategy: tt.strategy, SystemPrompt: "S", OutputPrompt: "Answer the request.",
				Pool: []PoolExample{{ID: "d1", Input: "hi", Output: "salut"}}, MaxDemos: 2}
			c, _, err := Propose(t.Context(), g, Request{MaxTries: tt.tries, Data: data})
			if len(g.got) != tt.wantTries {
				t.Errorf("%d calls, want %d", len(g.got), tt.wantTries)
			}
			for i, req := range g.got {
				d, derr := DecodeData(req.Prompt)
				if derr != nil {
					t.Fatal(derr)
				}
				if i == 0 {
					if d.PreviousError != "" {
						t.Errorf("first try carries previous_error %q", d.PreviousError)
					}
					continue
				}
				if !strings.Contains(d.PreviousError, tt.wantErrIn[i-1]) {
					t.Errorf("try %d: previous_error = %q, want it to contain %q", i+1, d.PreviousError, tt.wantErrIn[i-1])
				}
			}
			// A re-ask must never be the same request as an earlier try:
			// the response cache would answer it with the rejected reply.
			keys := map[string]int{}
			for i, req := range g.got {
				k := llm.CacheKey("sim", req)
				if j, ok := keys[k]; ok {
					t.Errorf("try %d is the same request as try %d (cache key %.12s)", i+1, j+1, k)
				}
				keys[k] = i
			}
			if tt.wantFail {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Tries != tt.tries {
					t.Fatalf("err = %v, want *ParseError after %d tries", err, tt.tries)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Tries != tt.wantTries {
				t.Errorf("Tries = %d, want %d", c.Tries, tt.wantTries)
			}
		})
	}
}

func TestApplyEdits(t *testing.T) {
	tests := []struct {
		name             string
		edits            []Edit
		wantSys, wantOut string
		wantErr          string
	}{
		{"replace", []Edit{{Op: "replace", Target: "output_prompt", Quote: "the request", Text: "in French"}}, "Be brief.", "Answer in French.", ""},
		{"insert after", []Edit{{Op: "insert", Target: "system_prompt", Quote: "Be brief.", Text: " No quotes."}}, "Be brief. No quotes.", "Answer the request.", ""},
		{"append", []Edit{{Op: "insert", Target: "output_prompt", Text: " Only the answer."}}, "Be brief.", "Answer the request. Only the answer.", ""},
		{"delete", []Edit{{Op: "delete", Target: "output_prompt", Quote: " the request"}}, "Be brief.", "Answer.", ""},
		{"in order", []Edit{{Op: "replace", Target: "output_prompt", Quote: "request", Text: "question"},
			{Op: "replace", Target: "output_prompt", Quote: "question", Text: "query"}}, "Be brief.", "Answer the query.", ""},
		{"not found", []Edit{{Op: "replace", Target: "output_prompt", Quote: "answer the request", Text: "x"}}, "", "", "occurs 0 times"},
		{"ambiguous", []Edit{{Op: "delete", Target: "system_prompt", Quote: "e"}}, "", "", "occurs 2 times"},
		{"bad op", []Edit{{Op: "move", Target: "system_prompt", Quote: "Be"}}, "", "", "op must be"},
		{"bad target", []Edit{{Op: "delete", Target: "both", Quote: "Be"}}, "", "", "target must be"},
		{"one bad edit applies none", []Edit{{Op: "delete", Target: "system_prompt", Quote: "Be "},
			{Op: "delete", Target: "system_prompt", Quote: "nope"}}, "", "", "edit 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys, out, err := ApplyEdits("Be brief.", "Answer the request.", tt.edits)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sys != tt.wantSys || out != tt.wantOut {
				t.Errorf("got %q / %q, want %q / %q", sys, out, tt.wantSys, tt.wantOut)
			}
		})
	}
}

// TestBuildRewriteKeepsOmittedPrompt: a rewrite reply that leaves one
// prompt out (a model ignoring the response schema) keeps the current one;
// only a prompt sent empty on purpose is emptied.
func TestBuildRewriteKeepsOmittedPrompt(t *testing.T) {
	d := Data{Strategy: StrategyRewrite, SystemPrompt: "You translate {{lang}}.", OutputPrompt: "Answer the request."}
	tests := []struct {
		name, reply, wantSys, wantOut string
	}{
		{"both", `{"system_prompt":"S2","output_prompt":"O2","reasoning":"r"}`, "S2", "O2"},
		{"output only", `{"output_prompt":"Answer with the translation only.","reasoning":"r"}`, d.SystemPrompt, "Answer with the translation only."},
		{"system only, fenced, trailing comma", "```json\n{\"system_prompt\":\"S2\",\"reasoning\":\"r\",}\n```", "S2", d.OutputPrompt},
		{"system emptied on purpose", `{"system_prompt":"","output_prompt":"O2","reasoning":"r"}`, "", "O2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Build(d, tt.reply)
			if err != nil {
				t.Fatal(err)
			}
			if c.System != tt.wantSys || c.Output != tt.wantOut {
				t.Errorf("got %q / %q, want %q / %q", c.System, c.Output, tt.wantSys, tt.wantOut)
			}
		})
	}
}

// mapCache is an in-memory llm.Cache.
type mapCache map[string][]byte

func (c mapCache) Get(_ context.Context, key string) ([]byte, bool, error) {
	b, ok := c[key]
	return b, ok, nil
}

func (c mapCache) Put(_ context.Context, key string, value []byte) error {
	c[key] = value
	return nil
}

// TestProposeRetriesNotCached: behind the response cache, a re-ask whose
// request repeats the previous one (the same previous_error twice) is a new
// call, not the cached rejected reply.
func TestProposeRetriesNotCached(t *testing.T) {
	g := &scriptGen{replies: []string{"I refuse", "I refuse", `{"system_prompt":"S2","output_prompt":"O2","reasoning":"why"}`}}
	meter := &llm.Meter{}
	client := &llm.Client{Next: g, Key: "sim/opt", Cache: mapCache{}, CacheMode: llm.CacheReadWrite, Meter: meter}
	c, _, err := Propose(t.Context(), client, Request{MaxTries: 3, Data: Data{Strategy: "rewrite", SystemPrompt: "S"}})
	if err != nil {
		t.Fatalf("Propose: %v (paid calls %d)", err, len(g.got))
	}
	if c.System != "S2" || c.Tries != 3 {
		t.Errorf("candidate %+v, want S2 on try 3", c)
	}
	if got := meter.Total(); got.Calls != 3 || got.CacheHits != 0 {
		t.Errorf("calls %d, cache hits %d; want 3 paid, 0 hits", got.Calls, got.CacheHits)
	}
}

// TestBuildUserTemplate: the user template is the user's data layout; a
// reply may change it only when the data block allows it.
func TestBuildUserTemplate(t *testing.T) {
	base := Data{SystemPrompt: "Translate.", OutputPrompt: "Only French.", UserTemplate: "Text: {{text}}"}
	tests := []struct {
		name     string
		strategy string
		edit     bool
		reply    string
		want     string // the candidate's user template; "" with wantErr
		wantErr  string
	}{
		{"rewrite, fixed", StrategyRewrite, false, `{"system_prompt": "s", "output_prompt": "o", "user_template": "{{text}}", "reasoning": "r"}`, "Text: {{text}}", ""},
		{"rewrite, editable", StrategyRewrite, true, `{"system_prompt": "s", "output_prompt": "o", "user_template": "English: {{text}}", "reasoning": "r"}`, "English: {{text}}", ""},
		{"rewrite, editable, left out", StrategyRewrite, true, `{"system_prompt": "s", "output_prompt": "o", "reasoning": "r"}`, "Text: {{text}}", ""},
		{"edit, editable", StrategyEdit, true, `{"edits": [{"op": "replace", "target": "user_template", "quote": "Text:", "text": "English:"}], "reasoning": "r"}`, "English: {{text}}", ""},
		{"edit, fixed", StrategyEdit, false, `{"edits": [{"op": "replace", "target": "user_template", "quote": "Text:", "text": "English:"}], "reasoning": "r"}`, "",
			`edit 1: target must be system_prompt or output_prompt, got "user_template"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := base
			d.Strategy, d.EditUserTemplate = tt.strategy, tt.edit
			c, err := Build(d, tt.reply)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Build error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.User != tt.want {
				t.Errorf("user template %q, want %q", c.User, tt.want)
			}
		})
	}
}

// TestProposalSchemaUserTemplate: the response schema names the user
// template only when the optimizer may change it.
func TestProposalSchemaUserTemplate(t *testing.T) {
	for _, strategy := range Strategies {
		t.Run(strategy, func(t *testing.T) {
			fixed := proposalSchema(Data{Strategy: strategy})
			if diff := cmp.Diff(ProposalSchema(strategy), fixed); diff != "" {
				t.Errorf("fixed user template changed the schema:\n%s", diff)
			}
			got := fmt.Sprint(proposalSchema(Data{Strategy: strategy, EditUserTemplate: true}))
			if want := strategy != StrategyFewShot; strings.Contains(got, "user_template") != want {
				t.Errorf("editable schema %s: mentions user_template = %v, want %v", got, !want, want)
			}
		})
	}
}
