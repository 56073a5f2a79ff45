package main

import (
	"fmt"

	"github.com/promptml/promptml/functions/api/wire"
	"github.com/promptml/promptml/shared/store"
)

// notScored stands for a score that does not exist yet (issue 17 item 3):
// a 0.000 would read as a prompt that got everything wrong.
const notScored = "–"

// valScored reports whether the run's initial (and so best) val score
// exists: the baseline sets both when it leaves, so a run still at intake
// or baseline, or one that ended there, has none; its zeros are unset
// fields, not scores.
func valScored(r *wire.Run) bool {
	switch r.Stage {
	case "", store.StageIntake, store.StageBaseline:
		return false
	}
	return true
}

// score3 formats a score with three decimals, or notScored.
func score3(v float64, ok bool) string {
	if !ok {
		return notScored
	}
	return fmt.Sprintf("%.3f", v)
}

// scorePtr3 formats an optional score.
func scorePtr3(v *float64) string {
	if v == nil {
		return notScored
	}
	return fmt.Sprintf("%.3f", *v)
}

// unscoredReason says why a run has no val score: not yet, or never.
func unscoredReason(r *wire.Run) string {
	if !r.Terminal() {
		return "not scored yet"
	}
	if r.Stage == store.StageIntake {
		return "not scored: the run ended at intake"
	}
	return "not scored: the run ended before its baseline was scored"
}

// datasetLine describes the run's dataset, or says it was never read.
func datasetLine(r *wire.Run) string {
	if r.Dataset.Rows == 0 && (r.Stage == "" || r.Stage == store.StageIntake) {
		src := r.Dataset.URI
		if src == "" && r.Source.Object != "" {
			src = "gs://" + r.Source.Bucket + "/" + r.Source.Object
		}
		if r.Terminal() {
			return src + " (not read: the run failed at intake)"
		}
		return src + " (not read yet)"
	}
	return fmt.Sprintf("%s (%d rows: train %d, val %d, test %d)", r.Dataset.URI, r.Dataset.Rows, r.Dataset.Counts["train"], r.Dataset.Counts["val"], r.Dataset.Counts["test"])
}
