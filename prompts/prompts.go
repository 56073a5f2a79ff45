// Package prompts embeds the optimizer meta-prompts, one file per strategy
// under optimizer/.
package prompts

import (
	"embed"
	"fmt"
)

//go:embed optimizer/*.md
var files embed.FS

// Optimizer returns the embedded meta-prompt of a strategy. It contains
// {{DATA}} where the data block goes.
func Optimizer(strategy string) (string, error) {
	b, err := files.ReadFile("optimizer/" + strategy + ".md")
	if err != nil {
		return "", fmt.Errorf("prompts.Optimizer: no meta-prompt for strategy %q", strategy)
	}
	return string(b), nil
}
