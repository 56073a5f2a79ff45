// Package aggregate is the Aggregate function: fan-in of a finished phase,
// the optimizer, the validation gate and the next phase, triggered by a
// message on promptml-phase-done.
package aggregate

import (
	"context"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/promptml/promptml/functions/internal/handler"
	"github.com/promptml/promptml/shared/queue"
	"github.com/promptml/promptml/shared/serverenv"
)

func init() {
	functions.CloudEvent("Aggregate", Handle)
	handler.ColdStart("Aggregate")
}

// Handle decodes the phase-done message and advances the run.
func Handle(ctx context.Context, e cloudevents.Event) error {
	ctx = handler.Context(ctx, "Aggregate", e)
	if err := handler.CheckSize(ctx, e); err != nil {
		return err
	}
	env, err := serverenv.Instance(ctx)
	if err != nil {
		return handler.Classify(ctx, err)
	}
	msg, err := queue.DecodePhaseDone(e)
	if err != nil {
		return handler.Classify(ctx, err)
	}
	return handler.Classify(ctx, env.Pipeline.Aggregate(ctx, msg, handler.DeliveryID(e)))
}
