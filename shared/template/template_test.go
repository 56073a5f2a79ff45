package template

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRender(t *testing.T) {
	vars := map[string]string{
		"user_input": "Hello",
		"text":       "Good morning",
		"lang":       "French",
		"trap":       "{{lang}}",
		"data":       "{{DATA}} and \\{{x}}",
		"empty":      "",
	}
	tests := []struct {
		name, tmpl, want string
		names            []string
	}{
		{"default user template", "{{user_input}}", "Hello", []string{"user_input"}},
		{"no placeholders", "Answer the request.", "Answer the request.", nil},
		{"two variables", "Translate to {{lang}}: {{text}}", "Translate to French: Good morning", []string{"lang", "text"}},
		{"spaces inside the braces", "{{ text }} / {{\tlang\t}}", "Good morning / French", []string{"text", "lang"}},
		{"repeated variable listed once", "{{lang}}, {{lang}}", "French, French", []string{"lang"}},
		{"a value holding a placeholder stays literal", "<{{trap}}>", "<{{lang}}>", []string{"trap"}},
		{"a value holding {{DATA}} and an escape stays literal", "{{data}}", "{{DATA}} and \\{{x}}", []string{"data"}},
		{"empty value is a value", "[{{empty}}]", "[]", []string{"empty"}},
		{"escaped placeholder is text", `Write \{{text}} to mean the text.`, "Write {{text}} to mean the text.", nil},
		{"escape before a non-placeholder", `\{{ not a name }}`, "{{ not a name }}", nil},
		{"JSON braces are text", `Reply as {"a": {"b": 1}} or {{"x": 2}}`, `Reply as {"a": {"b": 1}} or {{"x": 2}}`, nil},
		{"three braces find the inner placeholder", "{{{text}}}", "{Good morning}", []string{"text"}},
		{"unclosed braces are text", "{{text", "{{text", nil},
		{"name with dots and dashes", "{{a.b-c}}", "x", []string{"a.b-c"}},
		{"backslash elsewhere is kept", `a\b \{`, `a\b \{`, nil},
	}
	vars["a.b-c"] = "x"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Render(tt.tmpl, vars)
			if err != nil {
				t.Fatalf("Render(%q): %v", tt.tmpl, err)
			}
			if got != tt.want {
				t.Errorf("Render(%q) = %q, want %q", tt.tmpl, got, tt.want)
			}
			if diff := cmp.Diff(tt.names, Names(tt.tmpl)); diff != "" {
				t.Errorf("Names(%q) (-want +got):\n%s", tt.tmpl, diff)
			}
		})
	}
}

func TestRenderMissing(t *testing.T) {
	tests := []struct {
		name, tmpl, missing string
		vars                map[string]string
	}{
		{"no vars at all", "{{user_input}}", "user_input", nil},
		{"second one missing", "{{a}} {{b}}", "b", map[string]string{"a": "1"}},
		{"names are case-sensitive", "{{Text}}", "Text", map[string]string{"text": "t"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(tt.tmpl, tt.vars)
			var me *MissingError
			if !errors.As(err, &me) || me.Name != tt.missing {
				t.Fatalf("Render(%q) error = %v, want a MissingError for %q", tt.tmpl, err, tt.missing)
			}
		})
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{
		"", "plain", "{{x}}", "{{{x}}}", `\{{x}}`, `a\\{{b}}c`, "{{", "{{{{", `\`, "}}{{", "{{DATA}}",
	} {
		t.Run(s, func(t *testing.T) {
			e := Escape(s)
			got, err := Render(e, nil)
			if err != nil {
				t.Fatalf("Render(Escape(%q) = %q): %v", s, e, err)
			}
			if got != s {
				t.Errorf("Render(Escape(%q) = %q) = %q", s, e, got)
			}
			if n := Names(e); len(n) != 0 {
				t.Errorf("Names(Escape(%q)) = %q, want none", s, n)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"user_input", true}, {"a.b-c", true}, {"Q1", true},
		{"", false}, {"two words", false}, {"café", false}, {"a{b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidName(tt.name); got != tt.want {
				t.Errorf("ValidName(%q) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{"{{a}}", `\{{a}}`, "{{{a}}}", "x{{ a }}y", "{{"} {
		f.Add(s, "{{a}}")
	}
	f.Fuzz(func(t *testing.T, tmpl, value string) {
		vars := map[string]string{}
		for _, n := range Names(tmpl) {
			vars[n] = value
		}
		if _, err := Render(tmpl, vars); err != nil {
			t.Fatalf("Render(%q) with every name set: %v", tmpl, err)
		}
		if got, _ := Render(Escape(tmpl), nil); got != tmpl {
			t.Fatalf("Render(Escape(%q)) = %q", tmpl, got)
		}
	})
}
