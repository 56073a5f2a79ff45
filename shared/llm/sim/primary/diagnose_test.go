package primary

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiagnose(t *testing.T) {
	tests := []struct {
		name, actual, expected string
		want                   []Habit
		content                bool
	}{
		{"correct", " Bonjour le monde\n", "Bonjour le monde", nil, false},
		{"preamble on its own line", "Sure! Here is the translation:\nBonjour le monde", "Bonjour le monde", []Habit{Preamble}, false},
		{"preamble inline", "The sentiment is: positive", "positive", []Habit{Preamble}, false},
		{"quotes", `"Bonjour le monde"`, "Bonjour le monde", []Habit{Quotes}, false},
		{"curly quotes", "\u201cBonjour le monde\u201d", "Bonjour le monde", []Habit{Quotes}, false},
		{"explanation", "Bonjour le monde\n\nThis is a common greeting in French.", "Bonjour le monde", []Habit{Explanation}, false},
		{"capitalization", "Bonjour Le Monde", "Bonjour le monde", []Habit{Capitalization}, false},
		{"everything", "Sure! Here is the translation: \"BONJOUR LE MONDE\" Let me know if you need anything else!", "Bonjour le monde",
			[]Habit{Preamble, Quotes, Explanation, Capitalization}, false},
		{"trailing period is content", "Bonjour le monde.", "Bonjour le monde", nil, true},
		{"wrong content", "Bonjour monde", "Bonjour le monde", nil, true},
		{"wrong content with habits", "Sure! Here is the translation:\n\"Bonjour monde\" Let me know if you need anything else!", "Bonjour le monde",
			[]Habit{Preamble, Quotes, Explanation}, true},
		{"wrong label with preamble", "The sentiment is: negative", "positive", []Habit{Preamble}, true},
		{"empty expected", "anything", "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := diagnose(tt.actual, tt.expected)
			var got []Habit
			for _, h := range Habits {
				if f.habits[h] {
					got = append(got, h)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("habits (-want +got):\n%s", diff)
			}
			if f.content != tt.content {
				t.Errorf("content = %v, want %v", f.content, tt.content)
			}
		})
	}
}
