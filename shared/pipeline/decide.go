package pipeline

import (
	"fmt"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/store"
)

// The decisions of the training loop, as pure functions of plain values:
// the gate, early stopping, "training is over" and the budget. The
// transitions read what they need, call these, and write the outcome;
// decide_test.go tables them without Firestore.

// score is "the score" of a phase for the gate and early stopping: the
// statistic early_stopping.metric names.
func score(s *eval.Summary, metric string) float64 {
	if s == nil {
		return 0
	}
	if metric == "pass_rate" {
		return s.PassRate
	}
	return s.Mean
}

// nothingFails reports whether every scored training example of the
// incumbent passes (train summary s): the optimizer is then sent its
// lowest-scoring passes, and the request and the proposal event say so
// rather than call them failures.
func nothingFails(s *eval.Summary) bool {
	return s != nil && s.N > 0 && s.PassRate >= 1
}

// candidateScore is one candidate as the gate sees it.
type candidateScore struct {
	Status store.CandidateStatus
	// Val is its val score, Errors its val examples without a score
	// (only for a scored candidate).
	Val    float64
	Errors int
}

// bestCandidate is the index of the scored candidate with the highest val
// score (the first on a tie), -1 when none was scored.
func bestCandidate(cs []candidateScore) int {
	best := -1
	for i, c := range cs {
		if c.Status.Scored() && (best < 0 || c.Val > cs[best].Val) {
			best = i
		}
	}
	return best
}

// gateInput is what the gate decides on.
type gateInput struct {
	Candidate       candidateScore // the best candidate
	IncumbentVal    float64
	IncumbentErrors int
	MinDelta        float64
	Alpha           float64
	// P is the paired test's one-sided p-value; nil when no test ran
	// (gate.test none, or the margin was not met).
	P *float64
}

// needsTest reports whether the paired test must run: only when the
// margin is met and the candidate is scored on as many examples, since it
// asks whether that improvement is more than luck.
func (in gateInput) needsTest() bool {
	return in.Candidate.Errors <= in.IncumbentErrors && in.Candidate.Val-in.IncumbentVal > in.MinDelta
}

// gate decides the epoch's best candidate: accepted iff it scores on no
// fewer val examples than the incumbent, beats its val score by more than
// min_delta, and the paired test (when one ran) gives p ≤ alpha. note
// explains a rejection for fewer scored examples.
func gate(in gateInput) (d store.Decision, note string) {
	switch {
	case in.Candidate.Errors > in.IncumbentErrors:
		// Scores leave errored examples out, so a prompt that makes the
		// model refuse (safety blocks) on hard examples would look better
		// by failing to answer them.
		return store.DecisionRejected, fmt.Sprintf("; the candidate got no score on %d val examples vs the incumbent's %d",
			in.Candidate.Errors, in.IncumbentErrors)
	case in.Candidate.Val-in.IncumbentVal <= in.MinDelta:
		return store.DecisionRejected, ""
	case in.P == nil || *in.P <= in.Alpha:
		return store.DecisionAccepted, ""
	}
	return store.DecisionRejected, ""
}

// staleAfter is the count of consecutive epochs without improvement after
// an epoch decided d with val improvement delta: an accepted candidate
// resets it only if it improved by more than early_stopping.min_delta.
func staleAfter(stale int, d store.Decision, delta, minDelta float64) int {
	if d == store.DecisionAccepted && delta > minDelta {
		return 0
	}
	return stale + 1
}

// trainingOver says whether training stops after epoch (of epochs at
// most), with stale epochs without improvement (patience 0: never stops
// early) and the incumbent's val score bestVal, and why.
func trainingOver(epoch, epochs, stale, patience int, bestVal float64) (bool, string) {
	switch {
	case epoch >= epochs:
		return true, fmt.Sprintf("Training done: reached the configured %d epochs.", epochs)
	case patience > 0 && stale >= patience:
		return true, fmt.Sprintf("Early stopping: no improvement for %d epochs (patience %d).", stale, patience)
	case bestVal >= 1:
		return true, "Training done: the incumbent is perfect on val."
	}
	return false, ""
}

// spend is an amount in the three budgeted units.
type spend struct {
	calls, tokens int
	usd           float64
}

func spendOf(u store.Usage) spend {
	return spend{calls: u.Calls, tokens: u.InputTokens + u.OutputTokens, usd: u.CostUSD}
}

func (s spend) plus(t spend) spend {
	return spend{calls: s.calls + t.calls, tokens: s.tokens + t.tokens, usd: s.usd + t.usd}
}

func (s spend) times(f float64) spend {
	return spend{calls: int(float64(s.calls)*f + 0.999), tokens: int(float64(s.tokens)*f + 0.999), usd: s.usd * f}
}

// over names the first limit of b that s crosses, "" if none.
func over(b config.Budget, s spend) string {
	switch {
	case b.MaxCalls > 0 && s.calls > b.MaxCalls:
		return fmt.Sprintf("%d calls > budget.max_calls %d", s.calls, b.MaxCalls)
	case b.MaxTokens > 0 && s.tokens > b.MaxTokens:
		return fmt.Sprintf("%d tokens > budget.max_tokens %d", s.tokens, b.MaxTokens)
	case b.MaxUSD > 0 && s.usd > b.MaxUSD:
		return fmt.Sprintf("$%.4f > budget.max_usd $%.4f", s.usd, b.MaxUSD)
	}
	return ""
}

// perOptimizerCall is the average spend of one optimizer call over the
// run's epochs so far (one call, nothing else, before any).
func perOptimizerCall(epochs []*store.Epoch) spend {
	var u store.Usage
	for _, e := range epochs {
		u = u.Add(e.Usage)
	}
	if u.Calls == 0 {
		return spend{calls: 1}
	}
	return spendOf(u).times(1 / float64(u.Calls))
}

// epochOverBudget says why an epoch of candidates optimizer calls and as
// many val phases of valExamples each would cross b, "" if it fits: the
// run has spent spent (plus add, committed with the step), an optimizer
// call costs perCall and a scored example perExample.
func epochOverBudget(b config.Budget, spent, add, perCall, perExample spend, candidates, valExamples int) string {
	next := spent.plus(add).plus(perCall.times(float64(candidates))).plus(perExample.times(float64(candidates * valExamples)))
	return over(b, next)
}
