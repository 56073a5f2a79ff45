package pipeline

import (
	"context"
	"slices"

	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/store"
)

// The stage graph of a run: this table is the training loop. Each stage
// waits for its pending phases; when all of them are done, one Aggregate
// delivery computes the stage's transition (leave), which returns the next
// step without writing the run, and commit (step.go) applies it. A
// transition may only reach the stages its row lists.
//
//	intake ──► baseline ──► candidates ⇄ incumbent_train
//	              │             │ ▲             │
//	              │             └─┘ next epoch   │
//	              └─────────────┴───────────────┴──► test ──► done
//
// Three transitions end with afterEpoch (transition.go): training over
// (trainingOver in decide.go) → test, or done when there are no test rows;
// else the next epoch's candidates. Any transition may end the run at done
// instead when the budget cannot pay for what it would publish.
//
// To add a stage (a screening of candidates on a train minibatch, a merge
// of candidates, an evaluation stage): add its Stage constant to
// shared/store/model.go, a row here, and its leave function; then point
// the stages that lead to it at it in their next lists.
var stages = map[store.Stage]stageSpec{
	store.StageIntake: {
		waits: "nothing: the intake validates and splits the CSV, then commits the baseline itself",
		next:  []store.Stage{store.StageBaseline, store.StageDone},
	},
	store.StageBaseline: {
		waits: "train-<v0>, val-<v0>: the initial prompt on train and val",
		next:  []store.Stage{store.StageCandidates, store.StageTest, store.StageDone},
		leave: (*Pipeline).leaveBaseline,
	},
	store.StageCandidates: {
		waits: "val-<candidate> of each candidate the epoch proposed (none: gated at once)",
		next:  []store.Stage{store.StageIncumbentTrain, store.StageCandidates, store.StageTest, store.StageDone},
		leave: (*Pipeline).leaveCandidates,
	},
	store.StageIncumbentTrain: {
		waits: "train-<new incumbent>: the accepted candidate on train, whose failures the next epoch reads",
		next:  []store.Stage{store.StageCandidates, store.StageTest, store.StageDone},
		leave: (*Pipeline).leaveIncumbentTrain,
	},
	store.StageTest: {
		waits: "test-<initial>, test-<best> (one phase when the best is the initial prompt)",
		next:  []store.Stage{store.StageDone},
		leave: (*Pipeline).leaveTest,
	},
	store.StageDone: {
		waits: "nothing: the run has ended (succeeded or budget_exhausted)",
	},
}

// stageSpec is one row of the graph.
type stageSpec struct {
	// waits says which phases the stage's pending list holds.
	waits string
	// next are the stages its transition may reach.
	next []store.Stage
	// leave computes the step out of the stage once its phases are done;
	// nil for a stage the aggregator never leaves.
	leave func(p *Pipeline, ctx context.Context, t turn) (step, error)
}

// transition computes the step out of t's stage, and refuses a step the
// graph does not allow (a bug, never the user's input).
func (p *Pipeline) transition(ctx context.Context, t turn) (step, error) {
	spec, ok := stages[t.run.Stage]
	if !ok || spec.leave == nil {
		return step{}, errs.New(errs.Internal, "run %s is in stage %q, which the aggregator cannot leave", t.run.ID, t.run.Stage)
	}
	st, err := spec.leave(p, ctx, t)
	if err != nil {
		return step{}, err
	}
	if !slices.Contains(spec.next, st.To) {
		return step{}, errs.New(errs.Internal, "run %s: %s → %s is not in the stage graph", t.run.ID, t.run.Stage, st.To)
	}
	return st, nil
}
