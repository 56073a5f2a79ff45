package intent

import "strings"

// Reading is what a prompt's instructions say about the habits.
type Reading struct {
	// Removes is the habits the prompt asks the model to drop.
	Removes Set
	// Requests is the habits the prompt asks for ("explain your
	// reasoning", "put the answer in quotes", "don't forget to explain").
	// A requested habit is never in Removes: an explicit request outweighs
	// a general "only the answer", and a prompt that both forbids and asks
	// for a habit is read as not forbidding it.
	Requests Set
	// Lowercase is set when the prompt asks for the answer in lower case
	// and nowhere asks to keep the case as it is: the model then lowercases
	// the whole answer, which is right for labels and wrong for sentences.
	Lowercase bool
}

// Read returns the habits the prompt's instructions remove.
func Read(prompt string) Set { return Parse(prompt).Removes }

// Parse reads a prompt's instructions about the habits.
//
// The grammar, in short: a negator ("no", "not", "never", "without",
// "avoid", "skip", "leave off", "don't") opens a scope that runs to the
// end of its clause, or to a word that starts another thought ("but",
// "just", "why", a verb after "and"); a habit named inside it is removed.
// "X is not needed" negates backwards. A negated verb of leaving out
// ("don't forget to", "never omit") turns its scope into a request. A
// quoted span is matched against the habits' own text ("do not start with
// 'Sure!'"). Positive forms remove what they exclude: "only the answer",
// "nothing else", "begin with the opening brace", "plain text",
// "lowercase", "keep the original case", "be concise", "one of the labels,
// exactly as listed".
func Parse(prompt string) Reading {
	toks := tokenize(prompt)
	var r reader
	r.toks = toks
	for start := 0; start < len(toks); {
		end := start
		for end < len(toks) && !toks[end].sentenceEnd() {
			end++
		}
		r.sentence(start, end)
		start = end + 1
	}
	out := Reading{Removes: r.removes &^ r.requests, Requests: r.requests}
	out.Lowercase = r.lowercase && !r.keepCase && !r.requests.Has(Capitalization)
	return out
}

// reader accumulates what the sentences of one prompt say.
type reader struct {
	toks      []token
	removes   Set
	requests  Set
	lowercase bool
	keepCase  bool
}

// scope is a span of negated tokens [from, to); flip marks a negated verb
// of leaving out, which makes the span a request.
type scope struct {
	from, to int
	flip     bool
}

// sentence reads toks[start:end].
func (r *reader) sentence(start, end int) {
	toks := r.toks
	labelCtx := false
	for i := start; i < end; i++ {
		if toks[i].kind == word && is(toks[i].text, labelWords...) {
			labelCtx = true
		}
	}
	scopes := r.scopes(start, end)
	in := func(i int) (negated, flipped bool, sc scope) {
		for _, s := range scopes {
			if i >= s.from && i < s.to {
				return !s.flip, s.flip, s
			}
		}
		return false, false, scope{}
	}
	quotedIn := func(s scope) Set {
		var q Set
		for i := s.from; i < s.to; i++ {
			if toks[i].kind == quoted {
				q |= toks[i].habits
			}
		}
		return q
	}

	// Quoted examples of output; the wrong side of a correction ("'Paris',
	// not 'Answer: Paris'") is not asked for.
	wrong := r.contrasts(start, end, labelCtx)
	for i := start; i < end; i++ {
		t := toks[i]
		if t.kind != quoted || t.habits == 0 || wrong[i] {
			continue
		}
		// Forbidden, it is removed; asked for ("start with 'Answer:'"), it
		// is requested.
		if neg, _, _ := in(i); neg {
			r.removes |= t.habits
		} else {
			r.requests |= t.habits
		}
	}

	// Concepts.
	type hit struct {
		k         cue
		set       Set
		neg, flip bool
		sc        scope
		keep      bool
	}
	var hits []hit
	for i := start; i < end; {
		best := 0
		var ks []cue
		for _, k := range lexicon {
			n := match(toks[:end], i, k.seq)
			if n == 0 || n < best {
				continue
			}
			if i+n < end && toks[i+n].kind == word && is(toks[i+n].text, k.skipAfter...) {
				continue
			}
			if n > best {
				best, ks = n, nil
			}
			ks = append(ks, k)
		}
		if best == 0 {
			i++
			continue
		}
		neg, flip, sc := in(i)
		for _, k := range ks {
			if k.labelContext && !labelCtx {
				continue
			}
			if k.adding && !r.addedObject(start, end, i, best) {
				continue
			}
			set := k.set
			if k.generic {
				if neg && quotedIn(sc) != 0 {
					continue // "a closing line like 'Let me know…'": the example decides
				}
				// Its place narrows it: "pleasantries" at the start are a
				// preamble; "extra text" after the answer is what follows.
				if p := r.placed(r.clause(start, end, i)); set == 0 {
					set = p
				} else if set&p != 0 {
					set &= p
				}
			}
			if k.set == Of(AnswerLabel) && is(toks[i].text, "label", "labels") && r.definite(start, i) {
				continue // "the (sentiment) label" is the answer, not a field label
			}
			hits = append(hits, hit{k: k, set: set, neg: neg, flip: flip, sc: sc, keep: r.keepsCase(start, end, i)})
		}
		i += best
	}
	for _, h := range hits {
		if h.k.vague && h.neg {
			// "don't wrap the answer" forbids every wrapper; "don't wrap it
			// in quotes" only the one named.
			named := quotedIn(h.sc) != 0
			for _, o := range hits {
				named = named || (!o.k.vague && o.neg && o.sc == h.sc)
			}
			if named {
				continue
			}
		}
		r.apply(h.k, h.set, h.neg, h.flip, h.keep)
	}

	r.only(start, end, in)
	r.anchors(start, end, in)
	r.nothing(start, end, in)
	if labelCtx {
		r.labelForm(start, end, in)
	}
	r.enumeration(start, end)
}

// apply records one concept's mention.
func (r *reader) apply(k cue, set Set, neg, flip, keep bool) {
	switch k.mode {
	case noun:
		if neg {
			r.removes |= set
		} else {
			r.requests |= set
		}
	case negOnly:
		if neg {
			r.removes |= set
		} else if flip {
			r.requests |= set
		}
	case positive:
		if !neg && !flip {
			r.removes |= set
			if k.lowercase {
				r.lowercase = true
			}
		}
	case caseNoun, caseWord:
		switch {
		case neg:
			r.removes |= set
		case keep:
			r.removes |= set
			r.keepCase = true
		case k.mode == caseNoun || flip:
			r.requests |= set
		}
	}
}

// addedObject reports whether the n words at i are "else" text ("anything
// else") or the object of a verb of adding ("add anything after it").
func (r *reader) addedObject(start, end, i, n int) bool {
	if j := i + n; j < end && r.toks[j].kind == word && is(r.toks[j].text, "else", "more", "further", "extra") {
		return true
	}
	if j := i - 1; j >= start && r.toks[j].kind == word && negator(r.toks, j, end) {
		return true // "don't label your answer"
	}
	for j := i - 1; j >= max(start, i-8) && r.toks[j].kind != boundary; j-- {
		if r.toks[j].kind == word && is(r.toks[j].text, addingVerbs...) {
			return true
		}
	}
	return false
}

// definite reports whether the noun at i is in a definite noun phrase
// ("the label", "your sentiment label").
func (r *reader) definite(start, i int) bool {
	for j := i - 1; j >= max(start, i-3) && r.toks[j].kind == word; j-- {
		if is(r.toks[j].text, "the", "your", "its", "their", "this", "each") {
			return true
		}
	}
	return false
}

// keepsCase reports whether a keep-as-is word stands within four words of
// the case word at i, in its clause ("preserve the expected casing", "the
// same letter case as the source").
func (r *reader) keepsCase(start, end, i int) bool {
	lo, hi := r.clause(start, end, i)
	for j := max(lo, i-4); j < min(hi, i+5); j++ {
		if r.toks[j].kind == word && is(r.toks[j].text, keepWords...) {
			return true
		}
	}
	return false
}

// clause returns the bounds of the clause holding token i.
func (r *reader) clause(start, end, i int) (lo, hi int) {
	lo, hi = i, i
	for lo > start && r.toks[lo-1].kind != boundary {
		lo--
	}
	for hi < end && r.toks[hi].kind != boundary {
		hi++
	}
	return lo, hi
}

// placed is what generic text ("extra text", "anything") is, read from the
// position words of its sentence: text after the answer, before it, or
// (both or neither said) all text that is not the answer.
func (r *reader) placed(start, end int) Set {
	var b, a bool
	for i := start; i < end; i++ {
		t := r.toks[i]
		if t.kind != word {
			continue
		}
		if is(t.text, beforeWords...) {
			b = true
		}
		if is(t.text, afterWords...) {
			a = true
		}
	}
	switch {
	case a && !b:
		return after
	case b && !a:
		return before
	}
	return framing
}

// scopes finds the negated spans of a sentence.
func (r *reader) scopes(start, end int) []scope {
	toks := r.toks
	var out []scope
	for i := start; i < end; i++ {
		t := toks[i]
		if t.kind != word {
			continue
		}
		w := t.text
		// Backward negation: "explanations are not needed", "quotes are
		// unnecessary".
		if (w == "not" && i+1 < end && toks[i+1].kind == word && is(toks[i+1].text, postNegated...)) ||
			is(w, postNegators...) {
			lo, _ := r.clause(start, end, i)
			out = append(out, scope{from: lo, to: i})
			if w == "not" {
				i++
			}
			continue
		}
		if !negator(toks, i, end) {
			continue
		}
		from := i + 1
		if is(w, "leave", "leaving", "rather", "instead") {
			from++ // "leave off", "leave out", "rather than", "instead of"
		}
		if from < end && toks[from].kind == word && is(toks[from].text, "worry", "bother", "care", "fuss", "mind") {
			i = from // "don't worry about the case": it does not matter, not a prohibition
			continue
		}
		hesitate := from < end && toks[from].kind == word && is(toks[from].text, "hesitate", "hesitating")
		// "don't forget to explain", "never omit the quotes".
		flip := hesitate // "don't hesitate to explain"
		if !is(w, privatives...) && !flip {
			for j := from; j < min(end, from+3); j++ {
				if toks[j].kind != word {
					break
				}
				if is(toks[j].text, privatives...) {
					flip = true
					break
				}
				if !is(toks[j].text, "to", "ever", "you", "please", "be", "sure", "and", "forget") {
					break
				}
			}
		}
		to := from
		for to < end {
			u := toks[to]
			if u.kind == boundary {
				break
			}
			if u.kind == word && to > from {
				if is(u.text, enders...) {
					break
				}
				prev := toks[to-1]
				if is(u.text, starters...) && (prev.kind == comma || (prev.kind == word && prev.text == "and")) {
					break
				}
				if negator(toks, to, end) && !flip {
					break // a new negator opens its own scope
				}
			}
			to++
		}
		out = append(out, scope{from: from, to: to, flip: flip})
		i = to - 1
	}
	return out
}

// negator reports whether the word at i opens a negation scope.
func negator(toks []token, i, end int) bool {
	w := toks[i].text
	switch {
	case is(w, "no", "not", "never", "without", "none", "nor", "neither", "refrain", "stop", "nothing", "nobody"):
		if w == "stop" && i+1 < end && toks[i+1].kind == word && is(toks[i+1].text, "after", "at", "right", "immediately", "when") {
			return false // "stop right after the answer" is an anchor, not a negation
		}
		return true
	case strings.HasSuffix(w, "n't") || is(w, "dont", "doesnt", "cant", "wont", "shouldnt", "mustnt", "isnt", "arent"):
		return true
	case (w == "rather" || w == "instead") && i+1 < end && toks[i+1].kind == word && is(toks[i+1].text, "than", "of"):
		return true // "rather than quotes", "instead of '**Paris**'"
	case w == "leave" || w == "leaving":
		return i+1 < end && toks[i+1].kind == word && is(toks[i+1].text, "off", "out", "away")
	case is(w, privatives...):
		return !is(w, "forget", "forgetting", "fail", "miss", "neglect")
	}
	return false
}

// only reads "only the answer", "just the translation", "the JSON object
// only", "the answer itself", "the bare answer", "keep it to the
// translated text", "reply with one word": the reply is the answer, so all
// text that is not the answer goes.
func (r *reader) only(start, end int, in func(int) (bool, bool, scope)) {
	toks := r.toks
	wordAt := func(i int) string {
		if i < start || i >= end || toks[i].kind != word {
			return ""
		}
		return toks[i].text
	}
	// phrase reports whether a noun phrase naming the answer starts at i:
	// a determiner, up to three modifiers and an answer noun, or a bare
	// answer noun.
	phrase := func(i int) bool {
		if i < end && toks[i].kind == quoted && toks[i].habits == 0 {
			return true // "only 'positive' or 'negative'"
		}
		if is(wordAt(i), answerNouns...) {
			return true
		}
		if !is(wordAt(i), determiners...) {
			return false
		}
		for j := i + 1; j < min(end, i+5); j++ {
			w := wordAt(j)
			if w == "" {
				return false
			}
			if is(w, answerNouns...) {
				return true
			}
		}
		return false
	}
	for i := start; i < end; i++ {
		w := wordAt(i)
		if w == "" {
			continue
		}
		if neg, _, _ := in(i); neg && !is(w, "nothing") {
			continue
		}
		negatedBefore := i > start && is(wordAt(i-1), "not")
		if is(w, "only", "just", "solely", "purely", "exclusively", "merely", "simply") && !negatedBefore {
			j := i + 1
			if is(wordAt(j), answerVerbs...) {
				j++
			}
			if is(wordAt(j), "me", "us") {
				j++
			}
			if is(wordAt(j), "with", "out") {
				j++
			}
			if phrase(j) {
				r.removes |= framing
				continue
			}
			// "Just answer.", "only answer the question".
			if j > i+1 && is(wordAt(j-1), answerVerbs...) && (j >= end || toks[j].kind != word ||
				(wordAt(j) == "the" && is(wordAt(j+1), "question", "questions"))) {
				r.removes |= framing
				continue
			}
		}
		switch {
		case is(w, "only", "alone", "itself", "themselves", "own") && !negatedBefore:
			// Backwards: "the translation only", "JSON only", "the label by
			// itself", "the label on its own".
			k := i - 1
			if w == "itself" && wordAt(k) == "by" {
				k--
			}
			if w == "own" {
				if wordAt(k) != "its" || wordAt(k-1) != "on" {
					continue
				}
				k -= 2
			}
			if !is(wordAt(k), answerNouns...) {
				continue
			}
			det := false
			for j := k - 1; j >= max(start, k-4) && wordAt(j) != ""; j-- {
				if is(wordAt(j), determiners...) {
					det = true
					break
				}
			}
			// Without a determiner: "JSON only", "raw JSON only", "French
			// translation only"; not "short answers only" or "plain text
			// only", which say how long or how plain, not what.
			bare := k == start || toks[k-1].kind != word || is(wordAt(k-1), answerVerbs...) ||
				is(wordAt(k-1), "with", "in", "as", "is", "be")
			if !bare && toks[k].text != "text" && !strings.HasSuffix(toks[k].text, "s") {
				m := k - 1
				for m > max(start, k-3)-1 && wordAt(m) != "" && !is(wordAt(m), answerVerbs...) && !is(wordAt(m), "with", "in", "as", "is", "be") {
					m--
				}
				bare = m < start || toks[m].kind != word || is(wordAt(m), answerVerbs...) || is(wordAt(m), "with", "in", "as", "is", "be")
			}
			if det || bare {
				r.removes |= framing
			}
		case is(w, "entire", "whole", "full", "complete") && is(wordAt(i+1), "response", "reply", "output", "answer", "message"):
			// "your entire response should be the answer".
			for j := i + 2; j < min(end, i+6); j++ {
				if is(wordAt(j), "be", "is") {
					if phrase(j+1) || is(wordAt(j+1), "only", "just") && phrase(j+2) {
						r.removes |= framing
					}
					break
				}
			}
		case w == "that's" && is(wordAt(i+1), "it", "all") || w == "that" && wordAt(i+1) == "is" && is(wordAt(i+2), "it", "all"):
			r.removes |= framing // "answer with the translation. That's it."
		case is(w, "bare", "naked"):
			if phrase(i + 1) {
				r.removes |= framing
			}
		case is(w, "keep", "stick", "limit", "restrict", "confine"):
			// "keep it to the translated text", "limit your reply to the label".
			for j := i + 1; j < min(end, i+5); j++ {
				if wordAt(j) == "to" {
					if phrase(j + 1) {
						r.removes |= framing
					}
					break
				}
			}
		case (w == "one" || w == "single") && wordAt(i+1) == "word":
			// "reply with one word", "answer in a single word".
			p := i - 1
			if w == "single" && wordAt(p) == "a" {
				p--
			}
			if is(wordAt(p), "exactly", "just", "only", "precisely") {
				p--
			}
			if pw := wordAt(p); is(pw, "with", "in", "using", "as") || is(pw, answerVerbs...) ||
				(p >= start && toks[p].kind == boundary) || is(wordAt(i+2), answerNouns...) {
				r.removes |= framing
			}
		}
	}
}

// anchors reads "begin with X" and "end with X": beginning with the opening
// brace leaves no room for anything before it, fence included; beginning
// with the answer leaves no room for a preamble; ending with X likewise for
// what follows.
func (r *reader) anchors(start, end int, in func(int) (bool, bool, scope)) {
	toks := r.toks
	for i := start; i < end; i++ {
		t := toks[i]
		if t.kind != word {
			continue
		}
		begin := is(t.text, "begin", "start", "open", "starts", "begins", "opens", "starting", "beginning")
		finish := is(t.text, "end", "finish", "close", "ends", "finishes", "stop", "terminate", "ending", "finishing")
		// "the first character of your reply must be '{'".
		if is(t.text, "first", "last", "final") && i+1 < end && toks[i+1].kind == word &&
			is(toks[i+1].text, "character", "characters", "char", "thing", "symbol", "token") {
			_, hi := r.clause(start, end, i)
			for k := i + 2; k < hi; k++ {
				u := toks[k]
				if u.kind == symbol && u.text == "brace" || u.kind == quoted && strings.ContainsAny(u.text, "{}[]") ||
					u.kind == word && is(u.text, "brace", "bracket", "curly") {
					if t.text == "first" {
						r.removes |= before | Of(CodeFence)
					} else {
						r.removes |= after | Of(CodeFence)
					}
					break
				}
			}
			continue
		}
		if !begin && !finish {
			continue
		}
		if neg, flip, _ := in(i); neg || flip {
			continue
		}
		_, hi := r.clause(start, end, i)
		if finish && i > start && toks[i-1].kind == word && is(toks[i-1].text, "then", "and") && (i+1 >= end || toks[i+1].kind != word) {
			r.removes |= after // "write the answer, then stop"
			continue
		}
		j := i + 1
		for j < hi && j < i+6 && !(toks[j].kind == word && is(toks[j].text, "with", "after", "at")) {
			j++
		}
		if j >= hi || j >= i+6 {
			continue
		}
		if toks[j].text == "after" && !finish {
			continue
		}
		brace, ans := false, false
		for k := j + 1; k < hi; k++ {
			u := toks[k]
			if u.kind == quoted && strings.ContainsAny(u.text, "{}[]") {
				brace = true // "start with '{'"
			}
			if u.kind == quoted && u.habits != 0 {
				break // "start with 'Answer:'": a request, read with the quotes
			}
			if u.kind == symbol && u.text == "brace" || u.kind == word && is(u.text, "brace", "braces", "bracket", "brackets", "curly") {
				brace = true
			}
			if u.kind == word && is(u.text, answerNouns...) {
				ans = true
			}
		}
		switch {
		case brace && begin:
			r.removes |= before | Of(CodeFence)
		case brace && finish:
			r.removes |= after | Of(CodeFence)
		case ans && begin:
			r.removes |= Of(Preamble)
		case ans && finish:
			r.removes |= after
		}
	}
}

// nothing reads "nothing else", "and nothing more", "add nothing after
// it": no text of the place said.
func (r *reader) nothing(start, end int, in func(int) (bool, bool, scope)) {
	for i := start; i < end; i++ {
		t := r.toks[i]
		if t.kind != word || !is(t.text, "nothing") {
			continue
		}
		lo, hi := r.clause(start, end, i)
		r.removes |= r.placed(lo, hi)
	}
}

// labelForm reads "use exactly one of the labels", "write the label
// exactly as it appears in the list", "use them verbatim" in a sentence
// about labels: the label as given, not a synonym or another form.
func (r *reader) labelForm(start, end int, in func(int) (bool, bool, scope)) {
	toks := r.toks
	for i := start; i < end; i++ {
		t := toks[i]
		if t.kind != word {
			continue
		}
		if neg, flip, _ := in(i); neg || flip {
			continue
		}
		next := func(k int) string {
			if i+k < end && toks[i+k].kind == word {
				return toks[i+k].text
			}
			return ""
		}
		switch {
		case is(t.text, "exact", "exactly", "verbatim", "spelled", "spelling", "literally", "precisely", "identical", "predefined", "allowed", "permitted", "valid"):
		case t.text == "as" && is(next(1), "given", "listed", "written", "shown", "provided", "defined", "specified", "it", "they", "spelled"):
		case t.text == "one" && next(1) == "of":
		case is(t.text, "provided", "given", "listed", "defined", "specified", "predefined") && is(next(1), labelWords...):
		case is(t.text, "from", "in") && next(1) == "the" && is(next(2), "list", "options", "labels", "categories", "choices", "set"):
		case t.text == "word" && next(1) == "for" && next(2) == "word":
		default:
			continue
		}
		r.removes |= Of(LabelForm)
		return
	}
}

// enumeration reads a list of options after a colon or in parentheses,
// "reply with one word: positive or negative", "(positive / negative /
// neutral)": the answer is one of those words, as written. A list of
// phrases ("no quotes, no bold") is not a list of options.
func (r *reader) enumeration(start, end int) {
	toks := r.toks
	for i := start; i < end; i++ {
		if toks[i].kind != boundary || !is(toks[i].text, ":", "(") {
			continue
		}
		if r.options(i+1, end, 3) {
			r.removes |= Of(LabelForm)
			return
		}
	}
	// Options as the object of an answer verb: "respond with positive,
	// negative or neutral".
	for i := start; i+1 < end; i++ {
		if toks[i].kind == word && is(toks[i].text, answerVerbs...) && toks[i+1].kind == word && toks[i+1].text == "with" {
			if r.options(i+2, end, 0) {
				r.removes |= Of(LabelForm)
				return
			}
		}
	}
	// Quoted options anywhere: "'positive' or 'negative'".
	for i := start; i+2 < end; i++ {
		a, sep, b := toks[i], toks[i+1], toks[i+2]
		if a.kind == quoted && b.kind == quoted && a.habits == 0 && b.habits == 0 &&
			(sep.kind == slash || sep.kind == word && sep.text == "or") &&
			len(strings.Fields(a.text)) == 1 && len(strings.Fields(b.text)) == 1 {
			r.removes |= Of(LabelForm)
			return
		}
	}
}

// options reports whether the tokens from i to the clause's end are a list
// of single-word options: two or more joined by "or" or "/", or (when
// commas > 0) at least that many joined by commas alone.
func (r *reader) options(i, end, commas int) bool {
	toks := r.toks
	items, choice, wantItem := 0, false, true
	for j := i; j < end && toks[j].kind != boundary; j++ {
		u := toks[j]
		isItem := u.kind == quoted || (u.kind == word && !is(u.text, "or", "and", "no", "not", "the", "a", "an", "only", "just"))
		switch {
		case wantItem && isItem:
			items++
			wantItem = false
		case !wantItem && (u.kind == comma || u.kind == slash || (u.kind == word && u.text == "or")):
			choice = choice || u.kind != comma
			wantItem = true
		case wantItem && u.kind == word && u.text == "or" && j > i && toks[j-1].kind == comma:
			choice = true
		default:
			return false
		}
	}
	return !wantItem && (items >= 2 && choice || commas > 0 && items >= commas)
}

// contrasts reads corrections that quote the right and the wrong output:
// "write 'positive', not 'Positive.'", "'Bonjour' rather than '\"Bonjour\"'".
// What the wrong one adds to the right one names the habit: a period, quote
// marks, asterisks, a label or a lead-in before it, a sentence after it,
// another case (another form of the label, in a sentence about labels).
func (r *reader) contrasts(start, end int, labelCtx bool) (wrong map[int]bool) {
	toks := r.toks
	wrong = map[int]bool{}
	for i := start; i < end; i++ {
		if toks[i].kind != quoted {
			continue
		}
		j := i + 1
		if j < end && toks[j].kind == comma {
			j++
		}
		switch {
		case j < end && toks[j].kind == word && toks[j].text == "not":
			j++
		case j+1 < end && toks[j].kind == word && toks[j+1].kind == word &&
			(toks[j].text == "rather" && toks[j+1].text == "than" || toks[j].text == "instead" && toks[j+1].text == "of"):
			j += 2
		default:
			continue
		}
		for ; j < end && toks[j].kind == quoted; j++ {
			r.removes |= contrast(toks[i].text, toks[j].text, labelCtx)
			wrong[j] = true
			if j+1 < end && (toks[j+1].kind == comma || toks[j+1].kind == word && toks[j+1].text == "or") {
				j++
			}
		}
	}
	return wrong
}

// contrast returns the habits that turn the right output into the wrong one.
func contrast(right, wrong string, labelCtx bool) Set {
	a, b := strings.TrimSpace(right), strings.TrimSpace(wrong)
	switch {
	case a == "" || a == b:
		return 0
	case b == a+"." || b == a+"!":
		return Of(TrailingPeriod)
	case b == `"`+a+`"` || b == "'"+a+"'":
		return Of(Quotes)
	case b == "**"+a+"**" || b == "*"+a+"*" || b == "__"+a+"__":
		return Of(Bold)
	case strings.Contains(b, "```") && strings.Contains(b, a):
		return Of(CodeFence)
	case strings.EqualFold(a, b):
		if labelCtx {
			return Of(LabelForm)
		}
		return Of(Capitalization)
	case strings.HasSuffix(b, a):
		lead := strings.TrimSpace(strings.TrimSuffix(b, a))
		if q := classifyQuote(lead); q != 0 {
			return q
		}
		return Of(Preamble)
	case strings.HasPrefix(b, a):
		tail := strings.TrimSpace(strings.TrimPrefix(b, a))
		if q := classifyQuote(tail); q != 0 {
			return q
		}
		return Of(Explanation)
	case labelCtx && len(strings.Fields(a)) == 1 && len(strings.Fields(b)) == 1:
		return Of(LabelForm) // "'positive', not 'good'"
	}
	return 0
}
