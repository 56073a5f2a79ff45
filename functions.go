// Package promptml is the upload root of the Cloud Functions source: the Go
// buildpack builds this package, and each function's entry point selects
// one of the functions registered by the packages imported here.
package promptml

import (
	// The Functions Framework's registry, and the four functions.
	_ "github.com/GoogleCloudPlatform/functions-framework-go/functions"
	_ "github.com/promptml/promptml/functions/aggregate"
	_ "github.com/promptml/promptml/functions/api"
	_ "github.com/promptml/promptml/functions/ondatasetupload"
	_ "github.com/promptml/promptml/functions/runbatch"
)
