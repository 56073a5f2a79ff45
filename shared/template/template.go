// Package template fills a prompt's {{name}} placeholders with the values of
// one dataset row.
//
// It is plain substitution, without logic: a placeholder is "{{", a name of
// letters, digits, '_', '.' or '-' (optionally surrounded by spaces), and
// "}}". Anything else is text, so JSON such as {"a": {"b": 1}} or a "{{" that
// does not open a placeholder is copied as written. A backslash right before
// "{{" makes that "{{" literal: `\{{name}}` renders as `{{name}}`, and the
// backslash is removed.
//
// Rendering is one pass over the template: a value is inserted verbatim and
// is never read again, so a cell holding `{{other}}` or `{{DATA}}` reaches the
// model exactly as written. See docs/config.md#prompt-templates.
package template

import (
	"fmt"
	"slices"
	"strings"
)

// part is one piece of a parsed template: literal text, or a placeholder.
type part struct {
	text string // the literal text, or the placeholder's name
	name bool   // text is a placeholder name
}

// Template is a parsed template. The zero value renders as "".
type Template struct {
	parts []part
	names []string // distinct placeholder names, in order of first use
}

// Parse reads s. It cannot fail: text that is not a placeholder is literal.
func Parse(s string) Template {
	var t Template
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{text: lit.String()})
			lit.Reset()
		}
	}
	for len(s) > 0 {
		i := strings.Index(s, "{{")
		if i < 0 {
			lit.WriteString(s)
			break
		}
		if i > 0 && s[i-1] == '\\' {
			// Escaped: drop the backslash, keep "{{" as text.
			lit.WriteString(s[:i-1])
			lit.WriteString("{{")
			s = s[i+2:]
			continue
		}
		lit.WriteString(s[:i])
		s = s[i:]
		name, n := placeholderAt(s)
		if n == 0 {
			// Not a placeholder: one '{' is text, and scanning resumes at
			// the next, so "{{{x}}" still finds "{{x}}".
			lit.WriteByte('{')
			s = s[1:]
			continue
		}
		flush()
		t.parts = append(t.parts, part{text: name, name: true})
		if !slices.Contains(t.names, name) {
			t.names = append(t.names, name)
		}
		s = s[n:]
	}
	flush()
	return t
}

// placeholderAt reads the placeholder at the start of s, which begins with
// "{{": its name and length, or n = 0 when s does not start with one.
func placeholderAt(s string) (name string, n int) {
	i := 2
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	start := i
	for i < len(s) && nameByte(s[i]) {
		i++
	}
	name = s[start:i]
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	if name == "" || !strings.HasPrefix(s[i:], "}}") {
		return "", 0
	}
	return name, i + 2
}

// ValidName reports whether name can be written as a placeholder: one or
// more letters, digits, '_', '.' or '-' (ASCII). A column with another name
// (with a space, say) is still stored with its row but no template can use
// it.
func ValidName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			return false
		}
	}
	return true
}

func nameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-'
}

// Names returns the distinct placeholder names of t, in order of first use.
func (t Template) Names() []string { return slices.Clone(t.names) }

// MissingError is a placeholder whose variable has no value.
type MissingError struct {
	// Name is the placeholder's name.
	Name string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("template: no value for {{%s}}", e.Name)
}

// Render fills t's placeholders from vars. Each value is inserted verbatim
// and never expanded again. A placeholder without a value is a
// *MissingError; an empty value is a value.
func (t Template) Render(vars map[string]string) (string, error) {
	n := 0
	for _, p := range t.parts {
		if !p.name {
			n += len(p.text)
			continue
		}
		v, ok := vars[p.text]
		if !ok {
			return "", &MissingError{Name: p.text}
		}
		n += len(v)
	}
	var b strings.Builder
	b.Grow(n)
	for _, p := range t.parts {
		if p.name {
			b.WriteString(vars[p.text])
		} else {
			b.WriteString(p.text)
		}
	}
	return b.String(), nil
}

// Names returns the distinct placeholder names of s, in order of first use.
func Names(s string) []string { return Parse(s).names }

// Render parses s and fills it from vars (see Template.Render).
func Render(s string, vars map[string]string) (string, error) { return Parse(s).Render(vars) }

// Escape returns a template that renders as s, whatever s holds: every "{{"
// is escaped. Render(Escape(s), nil) == s.
func Escape(s string) string { return strings.ReplaceAll(s, "{{", `\{{`) }
