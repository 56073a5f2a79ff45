package pipeline

import (
	"context"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/store"
)

// retrying wraps a model with the pipeline's transient-error retries and
// counts every call's usage (one proposal at a time: no locking).
type retrying struct {
	p     *Pipeline
	g     Generator
	usage *store.Usage
}

func (r retrying) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	resp, err := r.p.generate(ctx, r.g, req)
	if r.usage != nil {
		u := llm.Usage{}
		if resp != nil {
			u = resp.Usage
		}
		*r.usage = r.usage.AddCall(u)
		if err != nil {
			r.usage.Errors++
		}
	}
	return resp, err
}
