package sim_test

import (
	"context"
	"fmt"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/llm/sim"
)

func ExampleModel_Generate() {
	key := sim.NewKey(map[string]string{"Translate to French: Hello world": "Bonjour le monde"})
	m := sim.New(sim.Options{Key: key, Seed: 1})
	ctx := context.Background()
	for _, output := range []string{
		"Answer the request.",
		"Output only the translation, without quotes, keeping the exact capitalization.",
	} {
		resp, err := m.Generate(ctx, &llm.Request{
			System:  "You are a helpful assistant.",
			Prompt:  "Translate to French: Hello world\n\n" + output,
			Purpose: "primary",
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%q\n", resp.Text)
	}
	// Output:
	// "Here's the translation:\n\"Bonjour Le Monde\"\n\nThis is a common way to express it in French."
	// "Bonjour le monde"
}
