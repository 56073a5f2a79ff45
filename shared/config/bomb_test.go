package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// aliasBomb returns a YAML document whose anchors expand to 9^levels
// strings ("billion laughs") under metrics[0].options, the one place of
// the config that takes arbitrary values.
func aliasBomb(levels int) string {
	var b strings.Builder
	b.WriteString("metrics:\n  - name: exact_match\n    options:\n")
	b.WriteString(`      l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	for i := 1; i <= levels; i++ {
		p := fmt.Sprintf("*l%d", i-1)
		fmt.Fprintf(&b, "      l%d: &l%d [%s]\n", i, i, strings.Repeat(p+",", 8)+p)
	}
	return b.String()
}

// TestAliasBomb: a sidecar of a few hundred bytes whose aliases would
// expand to 43 million strings is refused at its first unknown option,
// with the path, before anything is expanded or stored.
func TestAliasBomb(t *testing.T) {
	_, err := Load(Layer{Source: "bomb.yaml", Data: []byte(aliasBomb(8))})
	var fe *FieldError
	if !errors.As(err, &fe) || !strings.HasPrefix(fe.Path, "metrics[0].options.") {
		t.Fatalf("Load(alias bomb) = %v, want a FieldError under metrics[0].options", err)
	}
}

// TestLongValuesCutInErrors: a reason quotes at most 80 bytes of a bad
// value, so a huge sidecar cannot make a run error too large to store.
func TestLongValuesCutInErrors(t *testing.T) {
	long := strings.Repeat("x", 100000)
	_, err := Load(Layer{Source: "s.yaml", Data: []byte("epochs: " + long + "\n" + long + ": 1\n")})
	if err == nil {
		t.Fatal("Load accepted a string epochs")
	}
	if n := len(err.Error()); n > 1000 {
		t.Fatalf("Load error is %d bytes, want under 1000", n)
	}
}
