package primary

import "strings"

// Demo is one few-shot demonstration in the canonical format the simulator
// reads (and the fewshot strategy writes):
//
//	Input: <input, may continue on following lines>
//	Output: <output, may continue on following lines>
//
// An output ends at a blank line, at the next "Input:" line or at the end of
// the text. The labels are matched case-insensitively at the start of a line.
type Demo struct {
	Input  string
	Output string
}

// FormatDemos renders demos in the canonical format, separated by blank
// lines, so writers of few-shot prompts produce what ParseDemos reads.
func FormatDemos(demos []Demo) string {
	var b strings.Builder
	for i, d := range demos {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString("Input: " + strings.TrimSpace(d.Input) + "\nOutput: " + strings.TrimSpace(d.Output))
	}
	return b.String()
}

// ParseDemos returns the demonstrations in text, in order. Demonstrations
// without an output are dropped.
func ParseDemos(text string) []Demo {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var (
		demos   []Demo
		in, out []string
		state   int // 0 outside, 1 in input, 2 in output
	)
	flush := func() {
		if state == 2 {
			o := strings.TrimSpace(strings.Join(out, "\n"))
			if o != "" {
				demos = append(demos, Demo{Input: strings.TrimSpace(strings.Join(in, "\n")), Output: o})
			}
		}
		in, out, state = nil, nil, 0
	}
	for _, line := range lines {
		if v, ok := label(line, "input:"); ok {
			flush()
			in, state = []string{v}, 1
			continue
		}
		switch state {
		case 1:
			if v, ok := label(line, "output:"); ok {
				out, state = []string{v}, 2
				continue
			}
			in = append(in, line)
		case 2:
			if strings.TrimSpace(line) == "" {
				flush()
				continue
			}
			out = append(out, line)
		}
	}
	flush()
	return demos
}

// label reports whether line starts with name (case-insensitive, after
// leading space) and returns the rest.
func label(line, name string) (string, bool) {
	t := strings.TrimLeft(line, " \t")
	if len(t) < len(name) || !strings.EqualFold(t[:len(name)], name) {
		return "", false
	}
	return strings.TrimSpace(t[len(name):]), true
}
