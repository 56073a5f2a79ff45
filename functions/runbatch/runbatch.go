// Package runbatch is the RunBatch function: the primary LLM and the
// evaluator for one batch of one phase, triggered by a message on
// promptml-batches.
package runbatch

import (
	"context"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/promptml/promptml/functions/internal/handler"
	"github.com/promptml/promptml/shared/queue"
	"github.com/promptml/promptml/shared/serverenv"
)

func init() {
	functions.CloudEvent("RunBatch", Handle)
	handler.ColdStart("RunBatch")
}

// Handle decodes the batch message and scores the batch. A transient error
// is returned so Pub/Sub redelivers; a permanent one is logged and acked.
func Handle(ctx context.Context, e cloudevents.Event) error {
	ctx = handler.Context(ctx, "RunBatch", e)
	if err := handler.CheckSize(ctx, e); err != nil {
		return err
	}
	env, err := serverenv.Instance(ctx)
	if err != nil {
		return handler.Classify(ctx, err)
	}
	msg, err := queue.DecodeBatch(e)
	if err != nil {
		return handler.Classify(ctx, err)
	}
	return handler.Classify(ctx, env.Pipeline.RunBatch(ctx, msg))
}
