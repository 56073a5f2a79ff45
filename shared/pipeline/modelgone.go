package pipeline

import (
	"fmt"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/llm"
)

// modelFailed is the permanent error that fails a run when a model every
// call needs cannot be used (failsEveryCall). A model that does not exist
// or was retired (a 404, or a message saying so) gets a message naming the
// model and the config field to change: field, e.g. "primary.name", and
// envVar, the deployment's default.
func modelFailed(role, field, envVar string, m config.Model, err error) error {
	if llm.ModelUnavailable(err) {
		return errs.Invalid(fmt.Errorf("%s model %q (%s) is not available: it does not exist or has been retired. "+
			"Set %s in the run config to a current model (shared/config/models.yaml, as of %s, lists them "+
			"with their retirement dates; a deployment's default is %s): %w",
			role, m.Name, m.Provider, field, config.Models().AsOf, envVar, err))
	}
	return errs.Invalid(fmt.Errorf("%s model %s: %w", role, m.Key(), err))
}
