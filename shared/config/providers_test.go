package config

// Run configs name providers, which register themselves: link the three
// the function instances offer, as shared/serverenv does.
import (
	_ "github.com/promptml/promptml/shared/llm/openai"
	_ "github.com/promptml/promptml/shared/llm/sim"
	_ "github.com/promptml/promptml/shared/llm/vertex"
)
