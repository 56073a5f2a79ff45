package intent_test

import (
	"fmt"

	"github.com/promptml/promptml/shared/llm/sim/intent"
)

// A prompt's instructions, read: what they remove, and what is left on.
func ExampleRead() {
	removed := intent.Read("Reply with the French translation only. No intro, no quotation marks, no notes afterwards. Use ordinary sentence case.")
	fmt.Println(removed)
	// Output: {preamble, quotes, explanation, capitalization, signoff, answer_label}
}

// The new habits applied in Order to a label, each with its first surface,
// as the primary does when the option that enables them is set.
func ExampleSpec_Apply() {
	reply := "positive"
	for _, h := range intent.Order {
		if intent.Enabled(h, true) && !intent.Table[h].Core && h != intent.CodeFence {
			reply = intent.Table[h].Apply(reply, 0)
		}
	}
	fmt.Printf("%q\n", reply)
	// Output: "Answer: **Positive.** Hope this helps!"
}
