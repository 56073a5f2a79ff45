package pipeline

import (
	"fmt"
	"strings"
	"testing"

	"github.com/promptml/promptml/shared/config"
)

// TestEstimateCountsRenderedRequests: the dry run counts the tokens of the
// rendered user turn, so a templated CSV estimates what the same rows
// rendered by hand into a user_input column would.
func TestEstimateCountsRenderedRequests(t *testing.T) {
	var templated, rendered strings.Builder
	templated.WriteString("context,question,notes,ground_truth_output\n")
	rendered.WriteString("user_input,ground_truth_output\n")
	for i := range 40 {
		ctx := fmt.Sprintf("Paragraph %d says that the river number %d flows north through three long valleys.", i, i)
		q := fmt.Sprintf("Where does river %d flow?", i)
		fmt.Fprintf(&templated, "%s,%s,%s,north\n", csvCell(ctx), csvCell(q), csvCell(strings.Repeat("unused note ", 20)))
		fmt.Fprintf(&rendered, "%s,north\n", csvCell("Context: "+ctx+"\n\nQuestion: "+q))
	}
	estimate := func(csv, yaml string) *Estimate {
		t.Helper()
		e, err := estimateFrom(t.Context(), []config.Layer{{Source: "config", Data: []byte(yaml)}}, bytesSource(csv), "x.csv", config.Model{}, config.Allowlist{})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	const common = "epochs: 1\n"
	a := estimate(templated.String(), common+"prompt:\n  user: \"Context: {{context}}\\n\\nQuestion: {{question}}\"\n")
	b := estimate(rendered.String(), common)
	if a.InputTokens != b.InputTokens || a.InputTokens == 0 {
		t.Errorf("templated CSV estimates %d input tokens, the same rows rendered by hand %d; want equal (and > 0)", a.InputTokens, b.InputTokens)
	}
}

// csvCell quotes s as one CSV cell.
func csvCell(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
