package config

import (
	"strings"
	"testing"
)

func TestEditDistance(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"equal", "epochs", "epochs", 0},
		{"one missing", "epoch", "epochs", 1},
		{"one wrong", "epocks", "epochs", 1},
		{"swap", "stratgey", "strategy", 1},
		{"empty", "", "val", 3},
		{"unrelated", "foo", "seed", 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := editDistance(tc.a, tc.b); got != tc.want {
				t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

// TestUnknownKeySuggestsNearest checks an unknown key's error names the key
// the user most likely meant (issue 17 item 5), and only a close one.
func TestUnknownKeySuggestsNearest(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // "" means no suggestion
	}{
		{"top level", "epoch: 3\n", "did you mean `epochs`?"},
		{"nested", "optimizer:\n  stratgy: edit\n", "did you mean `strategy`?"},
		{"split", "split:\n  vall: 0.2\n", "did you mean `val`?"},
		{"case", "Epochs: 3\n", "did you mean `epochs`?"},
		{"nothing close", "foo: 1\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Layer{Source: "x.yaml", Data: []byte(tc.yaml)})
			if err == nil {
				t.Fatalf("Load(%q) succeeded", tc.yaml)
			}
			got := err.Error()
			if tc.want == "" {
				if strings.Contains(got, "did you mean") {
					t.Errorf("error suggests a key for an unrelated one: %v", err)
				}
				return
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("error %q does not say %q", got, tc.want)
			}
		})
	}
}
