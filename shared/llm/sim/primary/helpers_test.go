package primary

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/promptml/promptml/shared/llm"
)

// Neutral initial prompts, as a user would start a run.
const (
	neutralSystem = "You are a helpful assistant."
	neutralOutput = "Answer the request."
)

// pair is one dataset row.
type pair struct{ in, out string }

// sentimentPairs generates n review rows labelled positive/negative/neutral.
func sentimentPairs(n int) []pair {
	texts := [][2]string{
		{"I loved this movie, the acting was wonderful", "positive"},
		{"The food was cold and the service was slow", "negative"},
		{"The package arrived on Tuesday", "neutral"},
		{"Best purchase I have made all year", "positive"},
		{"It broke after two days, what a waste", "negative"},
		{"The meeting is scheduled for noon", "neutral"},
	}
	var ps []pair
	for i := 0; i < n; i++ {
		t := texts[i%len(texts)]
		ps = append(ps, pair{in: fmt.Sprintf("Review #%d: %s", i, t[0]), out: t[1]})
	}
	return ps
}

// keyOf builds a key with one dataset per argument, as LoadBucket does with
// one per CSV object.
func keyOf(datasets ...[]pair) *Key {
	b := newKeyBuilder()
	for _, ps := range datasets {
		m := map[string]string{}
		for _, x := range ps {
			m[x.in] = x.out
		}
		b.add(m)
	}
	return b.build()
}

func primaryReq(input, system, output string) *llm.Request {
	return &llm.Request{System: system, Prompt: input + "\n\n" + output, Purpose: "primary"}
}

func generate(t *testing.T, m *Model, req *llm.Request) string {
	t.Helper()
	text, err := m.Answer(context.Background(), req)
	if err != nil {
		t.Fatalf("Answer(%q): %v", req.Prompt, err)
	}
	return text
}

// score runs the primary over ps and returns the exact-match rate (trimmed,
// as eval's exact_match does) and the failures.
func score(t *testing.T, m *Model, ps []pair, system, output string) (float64, []failure) {
	t.Helper()
	var ok int
	var fails []failure
	for _, p := range ps {
		got := generate(t, m, primaryReq(p.in, system, output))
		if strings.TrimSpace(got) == strings.TrimSpace(p.out) {
			ok++
			continue
		}
		fails = append(fails, failure{Input: p.in, Expected: p.out, Actual: got})
	}
	return float64(ok) / float64(len(ps)), fails
}

// failure is one reply that did not match.
type failure struct{ Input, Expected, Actual string }
