// bench/promptfoo is an npm project, not Go code: this go.mod makes the
// .go files that npm installs under node_modules (promptfoo ships Go
// provider wrappers) a module of their own, so that `go vet ./...` and
// `go test ./...` of promptml do not build them.
module promptml-bench-promptfoo

go 1.26
