package intent

import "strings"

// mode is how a concept's mention acts, depending on whether it is negated.
type mode int

const (
	// noun: a habit's name ("quotes", "explain", "bold"). Negated it
	// removes the habit; asked for ("explain your reasoning", "put it in
	// quotes") it is requested, which keeps the habit whatever else says.
	noun mode = iota
	// negOnly: a word that names the habit only when forbidden ("thank",
	// "notes", "punctuation"); elsewhere it is ordinary language.
	negOnly
	// positive: a word that removes the habit by asking for its absence
	// ("plain text", "unquoted", "lowercase", "concise"); negated, nothing.
	positive
	// caseNoun: a strong case word ("capitalize", "title case"): negated
	// or next to a keep-as-is word ("preserve the capitalization") it
	// removes the capitalization habit; otherwise it is requested.
	caseNoun
	// caseWord: a weak case word ("case", "casing"): removes capitalization
	// when negated or next to a keep-as-is word; otherwise nothing.
	caseWord
)

// cue is one concept's wording: a sequence of word positions, each a set
// of alternatives ("x*" matches any word starting with x).
type cue struct {
	seq  [][]string
	set  Set
	mode mode
	// generic cues name text by its position only ("extra text", "a
	// concluding sentence"); an example quoted in the same scope ("like
	// 'Hope this helps'") narrows them to the habit it shows. Their set, if
	// empty, is decided by the position words of the clause (before, after).
	generic bool
	// labelContext cues act only in a sentence that talks about labels or
	// categories ("don't reword the category names").
	labelContext bool
	// lowercase marks an instruction to lowercase the whole answer.
	lowercase bool
	// adding cues ("anything") name text only as the object of a verb of
	// adding ("don't add anything after it"), not of another verb ("don't
	// title-case anything") or followed by "else".
	adding bool
	// vague cues name a kind of habit ("wrap") that another concept in
	// the same scope makes precise ("wrap it in quotes"); alone they
	// remove the whole kind.
	vague bool
	// skipAfter lists words that, right after the match, make it another
	// concept ("markdown code block" is a code fence, not markdown).
	skipAfter []string
}

// c builds a cue from a pattern such as "closing remark*|line*|words".
func c(pattern string, set Set, m mode) cue {
	var seq [][]string
	for _, pos := range strings.Fields(pattern) {
		seq = append(seq, strings.Split(pos, "|"))
	}
	return cue{seq: seq, set: set, mode: m}
}

func (k cue) gen() cue                    { k.generic = true; return k }
func (k cue) labels() cue                 { k.labelContext = true; return k }
func (k cue) lower() cue                  { k.lowercase = true; return k }
func (k cue) imprecise() cue              { k.vague = true; return k }
func (k cue) objectOfAdding() cue         { k.adding = true; return k }
func (k cue) unlessNext(ws ...string) cue { k.skipAfter = ws; return k }

// lexicon is what each habit is called. It holds concepts, not sentences:
// which nouns and verbs name a preamble, a sign-off, a code fence; how they
// combine with negation and the other rules is Read's grammar.
var lexicon = []cue{
	// Text before the answer.
	c("preamble*|intro|intros|introduc*|preface*|greeting*|greet|salutation*|acknowledg*", Of(Preamble), noun),
	c("lead in|ins", Of(Preamble), noun),
	c("opening|opener|openers remark*|line*|sentence*|words|phrase*|statement*|pleasantr*", Of(Preamble), noun),
	c("opener|openers", Of(Preamble), noun),
	c("here is|are", Of(Preamble), negOnly),
	c("restat*|repeat*|echo* the question|prompt|input|task|request", Of(Preamble), negOnly),
	c("here's|sure|certainly", Of(Preamble), negOnly),
	c("of course", Of(Preamble), negOnly),
	c("pleasantr*|niceties", Of(Preamble, Signoff), negOnly).gen(),
	c("small talk", Of(Preamble, Signoff), negOnly).gen(),
	c("framing", framing, negOnly),

	// Wrappers of any kind.
	c("wrap|wraps|wrapped|wrapping|enclose|enclosed|enclosing|surround|surrounded|surrounding|decorate|decorated", Of(Quotes, Bold, CodeFence), negOnly).imprecise(),

	// Quotes.
	c("quot*", Of(Quotes), noun),
	c("inverted|speech comma*|marks", Of(Quotes), noun),
	c("unquoted", Of(Quotes), positive),

	// Text after the answer about it.
	c("explain*|explanation*|explanatory|reasoning|rationale|justif*|commentary|comment|comments|commenting|elaborat*", Of(Explanation), noun),
	c("thought process*", Of(Explanation), noun),
	c("summary|summaries|recap|describe|describing|discuss|discussing|notes|note|reasons|reason|remarks|analysis|discussion|annotation*|caveat*|disclaimer*|afterthought*", Of(Explanation), negOnly),

	// Sign-offs.
	c("sign|signing off|offs", Of(Signoff), noun),
	c("signoff*|farewell*|valediction*", Of(Signoff), noun),
	c("closing|parting|final remark*|line*|words|sentence*|message*|note*|pleasantr*|statement*|phrase*|greeting*|thought*", Of(Signoff), noun),
	c("thank*|goodbye*|bye", Of(Signoff), negOnly),
	c("further|more|additional help|assistance", Of(Signoff), negOnly),
	c("offer* help|assistance|to|further|more", Of(Signoff), negOnly),
	c("follow up", Of(Signoff), negOnly),
	c("hope this|that helps", Of(Signoff), negOnly),
	c("let me know", Of(Signoff), negOnly),
	c("feel free", Of(Signoff), negOnly),

	// Text after the answer of either kind.
	c("concluding|summarizing|summarising sentence*|remark*|line*|words|note*|paragraph*|statement*|text|comment*|thought*", after, negOnly).gen(),
	c("leading|trailing text|words|content|sentence*|line*|paragraph*", 0, negOnly).gen(),
	c("conclusion*|postscript*|postamble*|afterword*|epilogue*", after, negOnly).gen(),

	// Text anywhere around the answer: its place decides which.
	c("extra|additional|other|further|surrounding|more|any|superfluous|unnecessary|unrequested text|words|content|sentences|lines|prose|output|chatter|information|info|details", 0, negOnly).gen(),
	c("anything|everything", 0, negOnly).gen().objectOfAdding(),
	c("fluff|filler|chatter|chit|padding|verbiage|waffle", 0, negOnly).gen(),

	// Markdown.
	c("bold*|emphasis|emphasi*|emphasiz*|asterisk*|italic*", Of(Bold), noun),
	// Asterisks in a prompt are usually the prompt's own emphasis
	// ("**Important:**"): they name the habit only when forbidden.
	c("**", Of(Bold), negOnly),
	c("star|stars", Of(Bold), negOnly),
	c("markdown|md", markdown, noun).unlessNext("code", "fence", "fences", "block", "blocks", "bold", "emphasis"),
	c("formatting|markup|styling", markdown, negOnly),
	c("format|formatted|style|styled", markdown, negOnly).imprecise(),
	c("rich text", markdown, negOnly),
	c("plain|plaintext text|prose", markdown, positive),
	c("plaintext", markdown, positive),

	// Field labels.
	c("prefix*|heading|headings|header|headers|tag|tags", Of(AnswerLabel), negOnly),
	c("field|key name*", Of(AnswerLabel), negOnly),
	c("colon|colons", Of(AnswerLabel), negOnly),
	c("answer|field|output label*", Of(AnswerLabel), noun),
	c("label|labels", Of(AnswerLabel), negOnly).objectOfAdding(),

	// The final period.
	c("period*|fullstop*", Of(TrailingPeriod), noun),
	c("full stop*", Of(TrailingPeriod), noun),
	c("dot|dots|punctuation|punctuate", Of(TrailingPeriod), negOnly),

	// Code fences.
	c("code fence*|block*|formatting", Of(CodeFence), noun),
	c("fence*|fenced|backtick*|backquote*|```", Of(CodeFence), noun),

	// Label synonyms and forms.
	c("synonym*|paraphras*", Of(LabelForm), negOnly),
	c("wording|spelling|spellings", Of(LabelForm), negOnly).labels(),
	c("invent*|new|made|make|own", Of(LabelForm), negOnly).labels().unlessNext("line", "lines", "sentence", "sentences", "text", "words"),
	c("substitut*|reword*|rephras*|rename*|abbreviat*|translat*", Of(LabelForm), negOnly).labels(),

	// Case.
	c("capitaliz*|capitalis*|capitals|uppercase|uppercased|caps", Of(Capitalization), caseNoun),
	c("capital letter*", Of(Capitalization), caseNoun),
	c("title|upper case|cased", Of(Capitalization), caseNoun),
	c("case|casing|lettercase", Of(Capitalization), caseWord),
	c("lowercase|lowercased|lowercasing", Of(Capitalization), positive).lower(),
	c("lower case|cased", Of(Capitalization), positive).lower(),
	c("small letters", Of(Capitalization), positive).lower(),
	c("case sensitive|sensitively", Of(Capitalization), positive),

	// Brevity: the sentences around the answer, not a field label.
	c("concise*|brief|briefly|brevity|terse*|succinct*|laconic*", chatter, positive),
	c("to the point", chatter, positive),
	c("chatty|verbose|wordy|waffl*|rambl*|talkative|long|yap*|chit", chatter, negOnly).unlessNext("words", "word", "answers", "answer", "sentences"),
	c("few words as possible", chatter, positive),
	c("short as possible", chatter, positive),
}

// match reports how many tokens from i the sequence seq matches, or 0.
func match(toks []token, i int, seq [][]string) int {
	for k, alts := range seq {
		if i+k >= len(toks) {
			return 0
		}
		t := toks[i+k]
		if t.kind != word && t.kind != symbol {
			return 0
		}
		if !matchWord(t.text, alts) {
			return 0
		}
	}
	return len(seq)
}

// matchWord reports whether w is one of alts ("x*" is a prefix).
func matchWord(w string, alts []string) bool {
	for _, a := range alts {
		if p, ok := strings.CutSuffix(a, "*"); ok && p != "" && strings.HasPrefix(w, p) {
			return true
		}
		if a == w {
			return true
		}
	}
	return false
}

// is reports whether w is one of ws.
func is(w string, ws ...string) bool {
	for _, x := range ws {
		if w == x {
			return true
		}
	}
	return false
}

// Word classes the grammar uses.
var (
	// addingVerbs put text into the reply.
	addingVerbs = []string{"add", "adding", "include", "including", "write", "writing", "say", "saying",
		"put", "output", "print", "append", "prepend", "insert", "type", "mention", "return", "give", "produce",
		"prefix", "use", "respond", "reply", "answer", "attach", "stick", "tack", "start", "begin", "end", "finish",
		"follow", "precede", "preface"}
	// answerNouns name the answer itself ("only the translation").
	answerNouns = []string{"answer", "translation", "label", "category", "class", "json", "object",
		"result", "output", "value", "word", "text", "sentiment", "number", "summary", "rating", "score",
		"verdict", "response", "reply", "array", "list", "code", "name", "date", "string", "words", "sentence"}
	// determiners introduce a noun phrase.
	determiners = []string{"the", "your", "a", "an", "its", "their", "this", "that", "one"}
	// answerVerbs produce the answer ("just write the category").
	answerVerbs = []string{"output", "write", "give", "return", "reply", "respond", "answer", "print",
		"provide", "say", "state", "send", "produce", "use", "emit", "type", "put", "show", "include", "generate",
		"want", "need", "expect", "see", "get"}
	// enders end a negation's scope: "never explain | why you chose it",
	// "skip the tag and | just write the category".
	enders = []string{"but", "instead", "rather", "then", "so", "because", "since", "that", "which",
		"who", "whom", "why", "when", "where", "unless", "if", "except", "just", "only", "while",
		"though", "although", "otherwise", "however", "yet"}
	// starters begin a new clause after "and" or a comma.
	starters = []string{"keep", "use", "add", "include", "put", "wrap", "write", "give", "explain",
		"end", "start", "begin", "answer", "reply", "respond", "output", "return", "make", "be",
		"translate", "classify", "copy", "stick", "follow", "preserve", "match", "please", "always",
		"you", "i", "we", "it", "this", "these", "they",
		// A prepositional phrase after a comma is the next instruction:
		// "no quotes, in lowercase".
		"in", "with", "at", "on", "using", "by", "for", "from", "into", "all", "exactly"}
	// privatives are verbs of leaving out: negators themselves, and after
	// a negator ("don't forget to", "never omit") they cancel it.
	privatives = []string{"forget", "forgetting", "omit", "omitting", "skip", "skipping", "drop",
		"dropping", "leave", "leaving", "remove", "removing", "neglect", "fail", "miss", "exclude",
		"excluding", "avoid", "avoiding", "lose", "strip", "stripping", "ditch", "eliminate", "cut"}
	// postNegated follow "not" to negate what precedes: "explanations are
	// not needed".
	postNegated = []string{"needed", "necessary", "required", "wanted", "allowed", "permitted",
		"desired", "welcome", "helpful", "useful", "appreciated", "acceptable", "ok", "okay", "wanted"}
	// postNegators negate what precedes on their own: "quotes are unnecessary".
	postNegators = []string{"unnecessary", "unneeded", "unwanted", "forbidden", "prohibited",
		"superfluous", "banned", "disallowed", "unwelcome", "undesired", "pointless"}
	// keepWords next to a case word ask to keep the case as it is.
	keepWords = []string{"preserve", "preserving", "keep", "keeping", "match", "matching", "maintain",
		"retain", "same", "original", "expected", "exact", "exactly", "correct", "ordinary", "normal",
		"natural", "sentence", "proper", "unchanged", "reference", "source", "standard", "usual", "respect"}
	// labelWords make a sentence talk about a label set.
	labelWords = []string{"label", "labels", "category", "categories", "class", "classes", "option",
		"options", "choice", "choices"}
	// beforeWords and afterWords place generic text relative to the answer.
	beforeWords = []string{"before", "preceding", "ahead", "front", "leading", "beginning", "start",
		"opening", "up", "precede", "precedes", "preceded", "preface", "prefaced", "first"}
	afterWords = []string{"after", "afterwards", "afterward", "following", "follow", "followed", "behind", "end",
		"trailing", "below", "beneath", "then", "later"}
)
