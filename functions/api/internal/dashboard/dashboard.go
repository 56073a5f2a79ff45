// Package dashboard is the API function's web dashboard: server-rendered
// pages (runs, a run with its score chart, prompt evolution, before/after
// examples, the event log, version comparison, a form to start a run),
// readable without JavaScript; one small embedded script refreshes a
// running run's page. Everything it serves is embedded: no CDN, works
// offline.
package dashboard

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/logging"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/promptdiff"
	"github.com/promptml/promptml/shared/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// UploadReader reads a start form (the API's multipart upload reader, so
// the form and POST /runs share their limits and messages).
type UploadReader func(r *http.Request) (pipeline.UploadRequest, error)

// Service is what the dashboard uses of the pipeline: its read side and
// the two actions of its forms.
type Service interface {
	pipeline.Reader
	StartFromCSV(ctx context.Context, req pipeline.UploadRequest) (*store.Run, error)
	Cancel(ctx context.Context, runID string) (*store.Run, error)
}

// Dashboard serves the pages over a pipeline.
type Dashboard struct {
	p      Service
	read   UploadReader
	pages  map[string]*template.Template
	static http.Handler
}

// New returns the dashboard; read decodes the start form.
func New(p Service, read UploadReader) *Dashboard {
	d := &Dashboard{p: p, read: read, pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		d.pages[base] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n))
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	d.static = http.StripPrefix("/ui/static/", http.FileServerFS(sub))
	return d
}

// Register adds the dashboard's routes to mux.
func (d *Dashboard) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", d.runsPage)
	mux.HandleFunc("GET /ui/new", d.newPage)
	mux.HandleFunc("POST /ui/runs", d.start)
	mux.HandleFunc("GET /ui/runs/{id}", d.withRun(d.runPage))
	mux.HandleFunc("GET /ui/runs/{id}/prompts", d.withRun(d.promptsPage))
	mux.HandleFunc("GET /ui/runs/{id}/examples", d.withRun(d.examplesPage))
	mux.HandleFunc("GET /ui/runs/{id}/events", d.withRun(d.eventsPage))
	mux.HandleFunc("GET /ui/runs/{id}/compare", d.withRun(d.comparePage))
	mux.HandleFunc("POST /ui/runs/{id}/cancel", d.withRun(d.cancel))
	mux.Handle("GET /ui/static/", d.static)
}

var funcs = template.FuncMap{
	"score": func(v float64) string { return fmt.Sprintf("%.3f", v) },
	"pscore": func(v *float64) string {
		if v == nil {
			return "–"
		}
		return fmt.Sprintf("%.3f", *v)
	},
	// pvalue prints a gate's p-value, one below 0.001 as "<0.001" rather
	// than a misleading 0.000.
	"pvalue": func(v *float64) string {
		switch {
		case v == nil:
			return "–"
		case *v < 0.0005:
			return "<0.001"
		}
		return fmt.Sprintf("%.3f", *v)
	},
	"usd": func(v float64) string {
		if v == 0 {
			return "$0"
		}
		if v < 0.01 {
			return fmt.Sprintf("$%.4f", v)
		}
		return fmt.Sprintf("$%.2f", v)
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"clock": func(t time.Time) string { return t.UTC().Format("15:04:05") },
	"pct": func(done, total int) int {
		if total <= 0 {
			return 0
		}
		return done * 100 / total
	},
	"signed":     func(v float64) string { return fmt.Sprintf("%+.3f", v) },
	"short":      func(s string) string { return shorten(s, 160) },
	"list":       func(ps ...*store.Prompt) []*store.Prompt { return ps },
	"splitScore": scoreOf,
	"valScored":  valScored,
	// runVal prints a run's initial or best val score, "–" before the
	// baseline has scored it (issue 17 item 3: not 0.000).
	"runVal": func(r *store.Run, v float64) string {
		if !valScored(r) {
			return "–"
		}
		return fmt.Sprintf("%.3f", v)
	},
	"unscoredWhy": unscoredWhy,
	"datasetRead": datasetRead,
}

// valScored reports whether a run's initial and best val scores exist: the
// baseline sets both as it leaves, so a run still at (or ended at) intake
// or baseline has only unset zeros.
func valScored(r *store.Run) bool {
	switch r.Stage {
	case "", store.StageIntake, store.StageBaseline:
		return false
	}
	return true
}

// unscoredWhy says why a run has no val score: not yet, or never.
func unscoredWhy(r *store.Run) string {
	switch {
	case r.Status == store.StatusRunning:
		return "not scored yet"
	case r.Stage == store.StageIntake:
		return "not scored: the run ended at intake"
	}
	return "not scored: the run ended before its baseline was scored"
}

// datasetRead reports whether the intake has read the run's dataset.
func datasetRead(r *store.Run) bool {
	return r.Dataset.Rows > 0 || (r.Stage != "" && r.Stage != store.StageIntake)
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

var runIDPattern = regexp.MustCompile(`^[a-z2-7]{26}$`)
var promptIDPattern = regexp.MustCompile(`^p[0-9a-f]{12}$`)

// withRun loads the run named in the path (404 page if unknown).
func (d *Dashboard) withRun(next func(http.ResponseWriter, *http.Request, *store.Run)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !runIDPattern.MatchString(id) {
			d.errorPage(w, r, http.StatusNotFound, fmt.Sprintf("No run %q: run ids are 26 characters a-z, 2-7. Pick one from the list of runs.", id))
			return
		}
		run, err := d.p.Run(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			d.errorPage(w, r, http.StatusNotFound, fmt.Sprintf("No run %s here. Pick one from the list of runs.", id))
			return
		}
		if err != nil {
			d.internal(w, r, err)
			return
		}
		next(w, r, run)
	}
}

// page is what every template gets.
type page struct {
	Title string
	Run   *store.Run
	Tab   string
	Data  any
}

func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, code int, name string, p page) {
	var buf bytes.Buffer
	if err := d.pages[name].Execute(&buf, p); err != nil {
		d.internal(w, r, fmt.Errorf("dashboard: render %s: %w", name, err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	w.WriteHeader(code)
	_, _ = buf.WriteTo(w)
}

func (d *Dashboard) errorPage(w http.ResponseWriter, r *http.Request, code int, msg string) {
	d.render(w, r, code, "error", page{Title: http.StatusText(code), Data: msg})
}

func (d *Dashboard) internal(w http.ResponseWriter, r *http.Request, err error) {
	logging.FromContext(r.Context()).Error("dashboard request failed", "error", err.Error(), "path", r.URL.Path)
	var buf bytes.Buffer
	_ = d.pages["error"].Execute(&buf, page{Title: "Error", Data: "Something went wrong reading the run; see the API function's logs."})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = buf.WriteTo(w)
}

// runRow is a line of the runs list.
type runRow struct {
	*store.Run
	Name string
}

func (d *Dashboard) runsPage(w http.ResponseWriter, r *http.Request) {
	status := r.URL.Query().Get("status")
	if status != "" && !slices.Contains(store.RunStatuses, store.RunStatus(status)) {
		d.errorPage(w, r, http.StatusBadRequest, "status must be running, succeeded, failed, cancelled or budget_exhausted")
		return
	}
	runs, err := d.p.Runs(r.Context(), store.RunStatus(status), 100)
	if err != nil {
		d.internal(w, r, err)
		return
	}
	rows := make([]runRow, 0, len(runs))
	for _, run := range runs {
		rows = append(rows, runRow{Run: run, Name: datasetName(run)})
	}
	d.render(w, r, http.StatusOK, "runs", page{Title: "Runs", Data: map[string]any{"Runs": rows, "Status": status,
		"Statuses": store.RunStatuses}})
}

// datasetName is the object's base name (uploads carry a folder prefix).
func datasetName(r *store.Run) string {
	o := r.Source.Object
	if i := strings.LastIndex(o, "/"); i >= 0 {
		o = o[i+1:]
	}
	return o
}

func (d *Dashboard) newPage(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, http.StatusOK, "new", page{Title: "Start a run", Tab: "new", Data: map[string]any{"MaxMiB": 32}})
}

// crossSite refuses form posts from other sites (the browser says where a
// request comes from); the deployed API is behind IAM as well.
func crossSite(r *http.Request) bool {
	return r.Header.Get("Sec-Fetch-Site") == "cross-site"
}

func (d *Dashboard) start(w http.ResponseWriter, r *http.Request) {
	if crossSite(r) {
		d.errorPage(w, r, http.StatusForbidden, "Cross-site form posts are refused. Start the run from this dashboard.")
		return
	}
	req, err := d.read(r)
	if err != nil {
		code := http.StatusBadRequest
		var coded interface{ StatusCode() int }
		if errors.As(err, &coded) {
			code = coded.StatusCode()
		}
		d.render(w, r, code, "new", page{Title: "Start a run", Tab: "new", Data: map[string]any{"MaxMiB": 32, "Error": err.Error()}})
		return
	}
	run, err := d.p.StartFromCSV(r.Context(), req)
	if err != nil {
		if errs.KindOf(err) == errs.InvalidArgument {
			d.render(w, r, http.StatusBadRequest, "new", page{Title: "Start a run", Tab: "new", Data: map[string]any{"MaxMiB": 32, "Error": errs.Message(err)}})
			return
		}
		d.internal(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/runs/"+run.ID, http.StatusSeeOther)
}

func (d *Dashboard) cancel(w http.ResponseWriter, r *http.Request, run *store.Run) {
	if crossSite(r) {
		d.errorPage(w, r, http.StatusForbidden, "Cross-site form posts are refused. Cancel the run from this dashboard.")
		return
	}
	if _, err := d.p.Cancel(r.Context(), run.ID); err != nil {
		d.internal(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/runs/"+run.ID, http.StatusSeeOther)
}

// runView is the run page.
type runView struct {
	Chart    template.HTML
	Epochs   []*store.Epoch
	Progress []*store.Phase
	Config   string
	Events   []*store.Event
	Models   []modelUsage
	// Stopped says why a run that ran out of budget stopped (its
	// budget_exhausted event), since it has no error.
	Stopped string
	Initial *store.Prompt
	Best    *store.Prompt
}

type modelUsage struct {
	Model string
	store.Usage
}

func (d *Dashboard) runPage(w http.ResponseWriter, r *http.Request, run *store.Run) {
	ctx := r.Context()
	epochs, err := d.p.Epochs(ctx, run.ID)
	if err != nil {
		d.internal(w, r, err)
		return
	}
	phases, err := d.p.Phases(ctx, run.ID)
	if err != nil {
		d.internal(w, r, err)
		return
	}
	v := runView{Chart: Chart(run, epochs), Epochs: epochs}
	for _, ph := range phases {
		// A cancelled or failed run leaves its phases pending forever: only
		// a running run has progress to show.
		if ph.State != store.PhasePending || run.Terminal() {
			continue
		}
		if err = d.p.Progress(ctx, run.ID, ph); err != nil {
			d.internal(w, r, err)
			return
		}
		v.Progress = append(v.Progress, ph)
	}
	if run.Config != nil {
		// Without HTML escaping: a prompt's "<" or "&" shows as written
		// (html/template escapes the page), not as \u003c.
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		_ = enc.Encode(run.Config)
		v.Config = b.String()
	}
	events, err := d.p.Events(ctx, run.ID, time.Time{})
	if err != nil {
		d.internal(w, r, err)
		return
	}
	for _, e := range events {
		if run.Status == store.StatusBudgetExhausted && e.Kind == string(store.StatusBudgetExhausted) {
			v.Stopped = e.Message
		}
	}
	if len(events) > 30 {
		events = events[len(events)-30:]
	}
	v.Events = events
	for m, u := range run.UsageByModel {
		v.Models = append(v.Models, modelUsage{Model: m, Usage: u})
	}
	sort.Slice(v.Models, func(i, j int) bool { return v.Models[i].Model < v.Models[j].Model })
	d.render(w, r, http.StatusOK, "run", page{Title: "Run " + run.ID, Run: run, Tab: "run", Data: v})
}

// version is one prompt version on the evolution page.
type version struct {
	*store.Prompt
	Diff []promptdiff.Line
	// Gate is the epoch that proposed the version (a version proposed
	// again later keeps its first decision).
	Gate     *store.Epoch
	Cand     *store.EpochCandidate
	Val      *float64
	Train    *float64
	Test     *float64
	IsBest   bool
	IsParent bool
}

// promptsView is the prompt evolution page: the versions, then the
// candidates the guards blocked.
type promptsView struct {
	Versions []version
	Blocked  []blockedCandidate
}

// blockedCandidate is a proposal a guard refused before it was scored.
type blockedCandidate struct {
	store.EpochCandidate
	Epoch     int
	Incumbent string
	Diff      []promptdiff.Line
}

func scoreOf(p *store.Prompt, split string) *float64 {
	if s, ok := p.Scores[split]; ok && s.N > 0 {
		v := s.Mean
		return &v
	}
	return nil
}

func (d *Dashboard) promptsPage(w http.ResponseWriter, r *http.Request, run *store.Run) {
	ctx := r.Context()
	prompts, err := d.p.Prompts(ctx, run.ID)
	if err != nil {
		d.internal(w, r, err)
		return
	}
	epochs, err := d.p.Epochs(ctx, run.ID)
	if err != nil {
		d.internal(w, r, err)
		return
	}
	byID := map[string]*store.Prompt{}
	for _, p := range prompts {
		byID[p.ID] = p
	}
	sort.SliceStable(prompts, func(i, j int) bool {
		if prompts[i].Epoch != prompts[j].Epoch {
			return prompts[i].Epoch < prompts[j].Epoch
		}
		return prompts[i].Candidate < prompts[j].Candidate
	})
	var vs []version
	for _, p := range prompts {
		v := version{Prompt: p, Val: scoreOf(p, "val"), Train: scoreOf(p, "train"), Test: scoreOf(p, "test"), IsBest: p.ID == run.IncumbentID}
		if p.Parent != "" {
			v.Diff = promptdiff.Lines(promptdiff.Unified(byID[p.Parent], p))
		}
		for _, e := range epochs {
			for i := range e.Candidates {
				if v.Gate == nil && e.Candidates[i].PromptID == p.ID {
					v.Gate, v.Cand = e, &e.Candidates[i]
				}
			}
		}
		vs = append(vs, v)
	}
	// Blocked candidates never become versions: list them with the guard's
	// reason and their diff to the incumbent they were derived from.
	var bs []blockedCandidate
	for _, e := range epochs {
		for _, c := range e.Candidates {
			if c.Status != store.CandidateBlocked {
				continue
			}
			b := blockedCandidate{EpochCandidate: c, Epoch: e.N, Incumbent: e.IncumbentID}
			if inc := byID[e.IncumbentID]; inc != nil {
				b.Diff = promptdiff.Lines(promptdiff.Unified(inc, &store.Prompt{ID: c.PromptID, System: c.System, Output: c.Output, Examples: c.Examples}))
			}
			bs = append(bs, b)
		}
	}
	d.render(w, r, http.StatusOK, "prompts", page{Title: "Prompt evolution", Run: run, Tab: "prompts", Data: promptsView{Versions: vs, Blocked: bs}})
}

// exampleRow pairs one example's results under the initial and the best
// prompt.
type exampleRow struct {
	ID, Input, Expected      string
	Before, After            string
	BeforeScore, AfterScore  *float64
	BeforeError, AfterError  string
	Changed, Improved, Worse bool
}

func (d *Dashboard) examplesPage(w http.ResponseWriter, r *http.Request, run *store.Run) {
	split := r.URL.Query().Get("split")
	if split == "" {
		split = "val"
	}
	if split != "val" && split != "test" {
		d.errorPage(w, r, http.StatusBadRequest, "split must be val or test")
		return
	}
	changedOnly := r.URL.Query().Get("changed") == "1"
	data := map[string]any{"Split": split, "ChangedOnly": changedOnly, "Initial": run.InitialPromptID, "Best": run.IncumbentID}
	if run.InitialPromptID == "" {
		data["Note"] = "The run has no prompt yet."
		d.render(w, r, http.StatusOK, "examples", page{Title: "Before / after", Run: run, Tab: "examples", Data: data})
		return
	}
	before, err := d.results(r, run.ID, pipeline.PhaseID(split, run.InitialPromptID))
	if err != nil {
		d.internal(w, r, err)
		return
	}
	after, err := d.results(r, run.ID, pipeline.PhaseID(split, run.IncumbentID))
	if err != nil {
		d.internal(w, r, err)
		return
	}
	if before == nil || after == nil {
		data["Note"] = fmt.Sprintf("The %s split has not been scored for both prompts yet (test is scored when training ends).", split)
		d.render(w, r, http.StatusOK, "examples", page{Title: "Before / after", Run: run, Tab: "examples", Data: data})
		return
	}
	idx := map[string]pipeline.Result{}
	for _, a := range after {
		idx[a.ID] = a
	}
	var rows []exampleRow
	total, changed := 0, 0
	for _, b := range before {
		a, ok := idx[b.ID]
		if !ok {
			continue
		}
		total++
		row := exampleRow{ID: b.ID, Input: b.Input, Expected: b.Expected, Before: b.Actual, After: a.Actual,
			BeforeScore: b.Score, AfterScore: a.Score, BeforeError: b.Error, AfterError: a.Error}
		bs, as := val(b.Score), val(a.Score)
		row.Changed = b.Actual != a.Actual || bs != as || b.Error != a.Error
		row.Improved, row.Worse = as > bs, as < bs
		if row.Changed {
			changed++
		}
		if changedOnly && !row.Changed {
			continue
		}
		rows = append(rows, row)
	}
	data["Rows"], data["Total"], data["Changed"] = rows, total, changed
	if run.InitialPromptID == run.IncumbentID {
		data["Note"] = "No candidate beat the initial prompt: both columns show the same prompt."
	}
	d.render(w, r, http.StatusOK, "examples", page{Title: "Before / after", Run: run, Tab: "examples", Data: data})
}

func val(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

// results reads a phase's per-example results; nil when the phase does not
// exist or is not done.
func (d *Dashboard) results(r *http.Request, runID, phaseID string) ([]pipeline.Result, error) {
	ph, err := d.p.Phase(r.Context(), runID, phaseID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if ph.State != store.PhaseDone {
		return nil, nil
	}
	rs, _, err := d.p.PhaseResults(r.Context(), runID, phaseID, 0, 5000)
	return rs, err
}

func (d *Dashboard) eventsPage(w http.ResponseWriter, r *http.Request, run *store.Run) {
	events, err := d.p.Events(r.Context(), run.ID, time.Time{})
	if err != nil {
		d.internal(w, r, err)
		return
	}
	d.render(w, r, http.StatusOK, "events", page{Title: "Events", Run: run, Tab: "events", Data: events})
}

// compareView is two versions side by side.
type compareView struct {
	Prompts []*store.Prompt
	A, B    *store.Prompt
	Diff    []promptdiff.Line
}

func (d *Dashboard) comparePage(w http.ResponseWriter, r *http.Request, run *store.Run) {
	ctx := r.Context()
	prompts, err := d.p.Prompts(ctx, run.ID)
	if err != nil {
		d.internal(w, r, err)
		return
	}
	sort.SliceStable(prompts, func(i, j int) bool { return prompts[i].Epoch < prompts[j].Epoch })
	q := r.URL.Query()
	a, b := q.Get("a"), q.Get("b")
	if a == "" {
		a = run.InitialPromptID
	}
	if b == "" {
		b = run.IncumbentID
	}
	v := compareView{Prompts: prompts}
	for _, id := range []string{a, b} {
		if !promptIDPattern.MatchString(id) {
			d.errorPage(w, r, http.StatusBadRequest, fmt.Sprintf("%q is not a prompt id of this run; pick versions from the lists.", id))
			return
		}
	}
	for _, p := range prompts {
		if p.ID == a {
			v.A = p
		}
		if p.ID == b {
			v.B = p
		}
	}
	if v.A == nil || v.B == nil {
		d.errorPage(w, r, http.StatusNotFound, "This run has no such prompt version; pick versions from the prompt evolution page.")
		return
	}
	v.Diff = promptdiff.Lines(promptdiff.Unified(v.A, v.B))
	d.render(w, r, http.StatusOK, "compare", page{Title: "Compare versions", Run: run, Tab: "compare", Data: v})
}
