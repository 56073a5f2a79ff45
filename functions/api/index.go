package api

import (
	"html/template"
	"io"

	"github.com/promptml/promptml/shared/store"
)

// indexPage is a plain, script-free list of runs linking to their JSON.
var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>promptml runs</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}</style>
</head><body><h1>promptml runs</h1>
<table><thead><tr><th>run</th><th>status</th><th>stage</th><th>epoch</th><th>initial val</th><th>best val</th><th>calls</th><th>created</th></tr></thead><tbody>
{{range .}}<tr><td><a href="runs/{{.ID}}">{{.ID}}</a></td><td>{{.Status}}</td><td>{{.Stage}}</td><td>{{.Epoch}}</td>
<td>{{printf "%.3f" .InitialVal}}</td><td>{{printf "%.3f" .BestVal}}</td><td>{{.Usage.Calls}}</td><td>{{.CreatedAt.Format "2006-01-02 15:04:05"}}</td></tr>
{{else}}<tr><td colspan="8">No runs yet. Upload a CSV to the datasets bucket or POST /runs.</td></tr>{{end}}
</tbody></table></body></html>
`))

func renderIndex(w io.Writer, runs []*store.Run) {
	_ = indexPage.Execute(w, runs)
}
