package dashboard

import (
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/promptml/promptml/shared/store"
)

// Chart geometry, in SVG user units.
const (
	chartW, chartH                     = 720, 280
	padLeft, padRight, padTop, padBott = 48, 150, 16, 36
)

// point is one marker of the chart.
type point struct {
	X, Y  float64
	Class string
	Title string
}

// Chart renders the run's scores per epoch as an inline SVG: the
// incumbent's train and val score (one point per epoch each, joined by a
// line), every candidate's val score (accepted ones ringed), and the test
// scores of the initial and the best prompt after the last epoch. It needs
// no script and no external file.
func Chart(run *store.Run, epochs []*store.Epoch) template.HTML {
	n := len(epochs)
	slots := n + 1 // x positions: epochs 1..n, then test
	if run.Test == nil {
		slots = n
	}
	if slots < 1 {
		slots = 1
	}
	maxY := 1.0
	var pts []point
	var train, val []point
	x := func(i int) float64 { // i = 1..slots
		w := float64(chartW - padLeft - padRight)
		if slots == 1 {
			return padLeft + w/2
		}
		return padLeft + w*float64(i-1)/float64(slots-1)
	}
	for i, e := range epochs {
		xi := x(i + 1)
		train = append(train, point{X: xi, Y: e.IncumbentTrain, Class: "pt inc-train",
			Title: fmt.Sprintf("epoch %d: incumbent %s train %.3f", e.N, e.IncumbentID, e.IncumbentTrain)})
		val = append(val, point{X: xi, Y: e.IncumbentVal, Class: "pt inc-val",
			Title: fmt.Sprintf("epoch %d: incumbent %s val %.3f", e.N, e.IncumbentID, e.IncumbentVal)})
		for j, c := range e.Candidates {
			if c.Status == store.CandidateBlocked || c.Status == store.CandidateNoChange || c.Status == store.CandidateProposed {
				continue // never scored, or not yet: the gate writes Val with the decision
			}
			cls := "pt cand"
			if c.Status == store.CandidateAccepted || (e.Decision == store.DecisionAccepted && c.PromptID == e.BestCandidate) {
				cls += " accepted"
			}
			pts = append(pts, point{X: xi + 6 + float64(j)*5, Y: c.Val, Class: cls,
				Title: fmt.Sprintf("epoch %d: candidate %s val %.3f (%s)", e.N, c.PromptID, c.Val, c.Status)})
		}
	}
	if run.Test != nil {
		xt := x(slots)
		pts = append(pts,
			point{X: xt, Y: run.Test.Initial.Mean, Class: "pt test-initial", Title: fmt.Sprintf("test: initial prompt %.3f", run.Test.Initial.Mean)},
			point{X: xt, Y: run.Test.Best.Mean, Class: "pt test-best", Title: fmt.Sprintf("test: best prompt %.3f", run.Test.Best.Mean)})
	}
	for _, p := range append(append(append([]point{}, pts...), train...), val...) {
		maxY = math.Max(maxY, p.Y)
	}
	y := func(v float64) float64 {
		h := float64(chartH - padTop - padBott)
		return padTop + h*(1-v/maxY)
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="score per epoch" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH)
	for i := 0; i <= 4; i++ {
		v := maxY * float64(i) / 4
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/><text class="tick" x="%d" y="%.1f">%.2f</text>`,
			padLeft, chartW-padRight, y(v), y(v), padLeft-6, y(v)+4, v)
	}
	for i, e := range epochs {
		fmt.Fprintf(&b, `<text class="tick x" x="%.1f" y="%d">%d</text>`, x(i+1), chartH-padBott+16, e.N)
	}
	if run.Test != nil {
		fmt.Fprintf(&b, `<text class="tick x" x="%.1f" y="%d">test</text>`, x(slots), chartH-padBott+16)
	}
	fmt.Fprintf(&b, `<text class="axis" x="%d" y="%d">epoch</text>`, padLeft+(chartW-padLeft-padRight)/2, chartH-4)
	line := func(ps []point, cls string) {
		if len(ps) < 2 {
			return
		}
		var coords []string
		for _, p := range ps {
			coords = append(coords, fmt.Sprintf("%.1f,%.1f", p.X, y(p.Y)))
		}
		fmt.Fprintf(&b, `<polyline class="%s" points="%s"/>`, cls, strings.Join(coords, " "))
	}
	line(train, "series inc-train")
	line(val, "series inc-val")
	for _, p := range append(append(train, val...), pts...) {
		r := 4.0
		if strings.Contains(p.Class, "accepted") {
			r = 6
		}
		fmt.Fprintf(&b, `<circle class="%s" cx="%.1f" cy="%.1f" r="%.0f"><title>%s</title></circle>`,
			p.Class, p.X, y(p.Y), r, template.HTMLEscapeString(p.Title))
	}
	legend := []struct{ cls, label string }{
		{"pt inc-train", "incumbent train"}, {"pt inc-val", "incumbent val"}, {"pt cand", "candidate val"},
		{"pt cand accepted", "accepted"}, {"pt test-initial", "test: initial"}, {"pt test-best", "test: best"},
	}
	for i, l := range legend {
		ly := padTop + 8 + i*20
		fmt.Fprintf(&b, `<circle class="%s legend" cx="%d" cy="%d" r="5"/><text class="legend" x="%d" y="%d">%s</text>`,
			l.cls, chartW-padRight+30, ly, chartW-padRight+42, ly+4, l.label)
	}
	if n == 0 {
		fmt.Fprintf(&b, `<text class="empty" x="%d" y="%d">no epoch yet</text>`, padLeft+20, chartH/2)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from numbers and escaped titles
}
