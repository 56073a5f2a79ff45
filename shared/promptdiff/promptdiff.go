// Package promptdiff renders prompt versions as text and diffs them, for
// the CLI (promptml diff) and the dashboard.
package promptdiff

import (
	"fmt"
	"strings"

	"github.com/aymanbagabas/go-udiff"

	"github.com/promptml/promptml/shared/store"
)

// Text is a prompt version as the text that is diffed: the system prompt,
// the output prompt and the few-shot examples under headed sections, each
// ending in a newline so a changed last line diffs cleanly.
func Text(p *store.Prompt) string {
	if p == nil {
		return ""
	}
	var b strings.Builder
	section := func(title, body string) {
		fmt.Fprintf(&b, "## %s\n%s", title, body)
		if !strings.HasSuffix(body, "\n") {
			b.WriteByte('\n')
		}
	}
	section("system prompt", p.System)
	section("output prompt", p.Output)
	for i, d := range p.Examples {
		section(fmt.Sprintf("example %d input", i+1), d.Input)
		section(fmt.Sprintf("example %d output", i+1), d.Output)
	}
	return b.String()
}

// Unified is the unified diff from version a to version b ("" when they
// are the same text). A nil a diffs b against nothing.
func Unified(a, b *store.Prompt) string {
	return udiff.Unified(label(a), label(b), Text(a), Text(b))
}

func label(p *store.Prompt) string {
	if p == nil {
		return "(none)"
	}
	return p.ID
}

// Line is one line of a diff with its kind, for rendering.
type Line struct {
	// Kind is "add", "del", "hunk", "file" or "ctx".
	Kind string
	Text string
}

// Lines splits a unified diff into classified lines.
func Lines(diff string) []Line {
	var out []Line
	for _, l := range strings.Split(strings.TrimSuffix(diff, "\n"), "\n") {
		if l == "" && diff == "" {
			continue
		}
		k := "ctx"
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			k = "file"
		case strings.HasPrefix(l, "@@"):
			k = "hunk"
		case strings.HasPrefix(l, "+"):
			k = "add"
		case strings.HasPrefix(l, "-"):
			k = "del"
		}
		out = append(out, Line{Kind: k, Text: l})
	}
	return out
}
