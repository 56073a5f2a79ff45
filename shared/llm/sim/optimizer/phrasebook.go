package optimizer

// wording is one way the optimizer phrases a fix. %q, when present, is
// filled with what it saw in the failures (the lead-in line, the trailing
// sentence, the case the reply used), %s with the label list. weight is how
// often it reaches for this wording: plain, specific instructions more than
// vague ones. Nothing here is tuned to what the primary obeys: some wordings
// work better than others on it, some over-correct (lowercasing a sentence
// to fix a capital), some are too vague to change anything.
type wording struct {
	text   string
	weight int
}

// phrasebook holds the optimizer's own wordings per pattern.
var phrasebook = [numPatterns][]wording{
	leadIn: {
		{"Start with the answer itself; do not open with a line like %q.", 3},
		{"Reply with the answer and nothing else.", 3},
		{"Do not begin with %q or any similar lead-in.", 3},
		{"Skip the introduction and write the answer directly.", 2},
		{"Get straight to the point.", 1},
	},
	fieldLabel: {
		{"Give just the answer, without a label such as %q in front of it.", 3},
		{"Do not prefix the answer with %q.", 3},
		{"Write the value alone, with no field name.", 1},
	},
	quoted: {
		{"Do not put quotation marks around the answer.", 3},
		{"Write it plain, without quotes.", 3},
		{"Don't quote the answer.", 2},
		{"The answer must not be in quotes.", 2},
		{"Mind the punctuation.", 1},
	},
	bold: {
		{"Plain text only: no **bold** or other markdown.", 3},
		{"Do not use markdown formatting.", 2},
		{"Keep the formatting simple.", 1},
	},
	fenced: {
		{"Return raw text, not a ``` code block.", 3},
		{"Do not put the reply in a code fence.", 2},
	},
	trailing: {
		{"Stop right after the answer: no explanation, no notes.", 3},
		{"Do not add anything after the answer, such as %q.", 3},
		{"Don't explain or comment on the answer.", 2},
		{"End the reply with the answer; no closing remarks like %q.", 2},
		{"Keep the reply brief.", 1},
	},
	finalPeriod: {
		{"Do not end the answer with a period unless it belongs to it.", 3},
		{"Leave off the final full stop.", 2},
	},
	casing: {
		{"Do not change the case of any word: write %q the way the source text would.", 3},
		{"Match the case of a normal sentence.", 2},
		{"Use ordinary sentence case, not %q.", 2},
		{"Write the answer in lowercase.", 1}, // over-corrects anything but labels
	},
	wordChoice: {
		{"Answer with exactly one of these labels: %s.", 3},
		{"Use the label words exactly as listed: %s.", 2},
		{"Use the standard label.", 1},
	},
}

// lowercaseBook replaces casing when every expected output shown is
// lowercase (labels such as "positive").
var lowercaseBook = []wording{
	{"Write the answer in lowercase.", 3},
	{"Use only lowercase letters.", 2},
	{"Do not capitalize the answer.", 2},
}

// vague are instructions that sound helpful and name nothing: an optimizer
// that does not know what to fix reaches for them.
var vague = []wording{
	{"Be accurate and concise.", 1},
	{"Follow the expected format closely.", 1},
	{"Make sure the answer is correct.", 1},
	{"Think about what the user needs.", 1},
}

// Phrasebook returns every wording the optimizer may write, placeholders
// unfilled, so a test can check that it shares nothing with the primary.
func Phrasebook() []string {
	var out []string
	add := func(ws []wording) {
		for _, w := range ws {
			out = append(out, w.text)
		}
	}
	for _, ws := range phrasebook {
		add(ws)
	}
	add(lowercaseBook)
	add(vague)
	return out
}
