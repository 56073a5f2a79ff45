package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/store"
)

// screenshotDir is where the browser test saves its screenshots:
// $PROMPTML_SCREENSHOTS (e.g. docs/img to refresh the documentation's), else
// a temporary directory.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("PROMPTML_SCREENSHOTS"); d != "" {
		if !filepath.IsAbs(d) {
			d = filepath.Join("..", "..", d) // relative to the repository root
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// browser starts headless Chromium. Without one it skips, unless CI is set:
// there a missing browser is a failure.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if lp, err := exec.LookPath(p); err == nil {
			path = lp
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no Chromium found and CI is set: install it (apt-get install chromium)")
		}
		t.Skip("no Chromium found: install it (apt-get install chromium) to run the browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancel)
	bctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Run(bctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", path, err)
	}
	return bctx
}

// count returns how many elements match a CSS selector.
func count(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	var n int
	if err := chromedp.Run(ctx, chromedp.Evaluate(fmt.Sprintf("document.querySelectorAll(%q).length", sel), &n)); err != nil {
		t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

func shoot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDashboardBrowser drives the dashboard in headless Chromium after a
// real training run of the translation sample: the run page's chart has
// one point per epoch, the prompt evolution shows the diff, the
// before/after table lists the val examples; then a run is started from
// the form and cancelled from its page.
func TestDashboardBrowser(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	e := newEnv(t, csv)
	ctx := t.Context()
	e.Upload(t, "translation-fr.yaml", readSample(t, "translation-fr.yaml"))
	id, err := e.P.StartFromUpload(ctx, e.Upload(t, "translation-fr.csv", csv))
	if err != nil {
		t.Fatal(err)
	}
	e.Drain(t, false)
	run, err := e.Store.GetRun(ctx, id)
	if err != nil || run.Status != store.StatusSucceeded {
		t.Fatalf("training run: %v %+v", err, run)
	}
	epochs, err := e.Store.ListEpochs(ctx, id)
	if err != nil || len(epochs) == 0 {
		t.Fatalf("epochs: %v (%d)", err, len(epochs))
	}
	accepted := 0
	for _, ep := range epochs {
		if ep.Decision == store.DecisionAccepted {
			accepted++
		}
	}
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	b := browser(t)
	bctx, cancel := context.WithTimeout(b, 2*time.Minute)
	defer cancel()
	dir := screenshotDir(t)
	t.Logf("screenshots in %s", dir)

	nav := func(path string) {
		t.Helper()
		if err := chromedp.Run(bctx, chromedp.Navigate(srv.URL+path), chromedp.WaitReady("footer", chromedp.ByQuery)); err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
	}

	t.Run("runs list", func(t *testing.T) {
		nav("/")
		if n := count(t, bctx, `#runs a[href="/ui/runs/`+id+`"]`); n != 1 {
			t.Errorf("runs list links the run %d times, want 1", n)
		}
		shoot(t, bctx, dir, "runs")
	})

	t.Run("run page chart", func(t *testing.T) {
		nav("/ui/runs/" + id)
		for _, series := range []string{"inc-val", "inc-train"} {
			if n := count(t, bctx, "#chart circle."+series+":not(.legend)"); n != len(epochs) {
				t.Errorf("chart has %d %s points, want one per epoch (%d)", n, series, len(epochs))
			}
		}
		if n := count(t, bctx, "#chart circle.cand.accepted:not(.legend)"); n != accepted {
			t.Errorf("chart marks %d accepted candidates, want %d", n, accepted)
		}
		if n := count(t, bctx, "#chart circle.test-best:not(.legend)"); n != 1 {
			t.Errorf("chart has %d test points of the best prompt, want 1", n)
		}
		if n := count(t, bctx, "#epochs tbody tr"); n != len(epochs) {
			t.Errorf("epoch table has %d rows, want %d", n, len(epochs))
		}
		shoot(t, bctx, dir, "run")
	})

	t.Run("prompt evolution diff", func(t *testing.T) {
		nav("/ui/runs/" + id + "/prompts")
		var added string
		if err := chromedp.Run(bctx, chromedp.Text(`article#`+run.IncumbentID+` pre.diff .l-add`, &added, chromedp.ByQuery)); err != nil {
			t.Fatalf("best version's diff: %v", err)
		}
		// Worded by the optimizer its own way (issue 19), but about quotes.
		if !strings.Contains(added, "quot") {
			t.Errorf("best version's diff adds %q, want an instruction about quotes", added)
		}
		if n := count(t, bctx, "blockquote.reasoning"); n == 0 {
			t.Error("no optimizer reasoning shown")
		}
		shoot(t, bctx, dir, "prompts")
	})

	t.Run("before after", func(t *testing.T) {
		before, _, err := e.P.PhaseResults(ctx, id, pipeline.PhaseID("val", run.InitialPromptID), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		after, _, err := e.P.PhaseResults(ctx, id, pipeline.PhaseID("val", run.IncumbentID), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, a := range after {
			out[a.ID] = a.Actual
		}
		changed := 0
		for _, b := range before {
			if out[b.ID] != b.Actual {
				changed++
			}
		}
		nav("/ui/runs/" + id + "/examples")
		if n := count(t, bctx, "#examples tbody tr"); n != len(before) {
			t.Errorf("before/after table has %d rows, want the %d val examples", n, len(before))
		}
		shoot(t, bctx, dir, "examples")
		nav("/ui/runs/" + id + "/examples?changed=1")
		if n := count(t, bctx, "#examples tbody tr"); n != changed || changed == 0 {
			t.Errorf("changed-only table has %d rows, want %d (> 0)", n, changed)
		}
	})

	t.Run("events and compare", func(t *testing.T) {
		nav("/ui/runs/" + id + "/events")
		if n := count(t, bctx, "#events li"); n < 5 {
			t.Errorf("event log has %d lines", n)
		}
		shoot(t, bctx, dir, "events")
		nav("/ui/runs/" + id + "/compare")
		if n := count(t, bctx, ".side section"); n != 2 {
			t.Errorf("compare page shows %d versions, want 2", n)
		}
		shoot(t, bctx, dir, "compare")
	})

	// submit starts a run from the form and returns its id, once the
	// browser shows its page.
	submit := func(t *testing.T, config string) string {
		t.Helper()
		file := filepath.Join(t.TempDir(), "mini.csv")
		if err := os.WriteFile(file, []byte(csv), 0o644); err != nil {
			t.Fatal(err)
		}
		nav("/ui/new")
		var loc string
		err := chromedp.Run(bctx,
			chromedp.SetUploadFiles("#csv", []string{file}, chromedp.ByID),
			chromedp.SetValue("#config", config, chromedp.ByID),
			chromedp.Click("#start", chromedp.ByID),
			chromedp.WaitVisible("#run-status", chromedp.ByID),
			chromedp.Location(&loc))
		if err != nil {
			t.Fatalf("submit the form: %v", err)
		}
		return strings.TrimPrefix(loc, srv.URL+"/ui/runs/")
	}

	t.Run("live refresh until the run ends", func(t *testing.T) {
		newID := submit(t, "epochs: 2\n")
		// Before the baseline is scored, the run has no val score: the
		// card says so rather than show 0.000 (issue 17 item 3).
		var bestVal string
		if err := chromedp.Run(bctx, chromedp.Text("#best-val", &bestVal, chromedp.ByID)); err != nil {
			t.Fatal(err)
		}
		if bestVal != "–" {
			t.Errorf("best val of a run at its baseline reads %q, want –", bestVal)
		}
		var before int
		if err := chromedp.Run(bctx, chromedp.Evaluate(`document.querySelectorAll("#events li").length`, &before)); err != nil {
			t.Fatal(err)
		}
		// The page is not reloaded by the test: its script must notice
		// the events and the end of the run.
		e.Drain(t, false)
		if err := chromedp.Run(bctx, chromedp.WaitVisible(`#run-status.s-succeeded`, chromedp.ByQuery)); err != nil {
			t.Fatalf("the running page never showed the run's end: %v", err)
		}
		if n := count(t, bctx, "#chart circle.inc-val:not(.legend)"); n == 0 {
			t.Error("after the live reload the chart has no epoch")
		}
		if n := count(t, bctx, "#events li"); n <= before {
			t.Errorf("event log has %d lines, had %d while running", n, before)
		}
		if r, err := e.Store.GetRun(ctx, newID); err != nil || r.Status != store.StatusSucceeded {
			t.Errorf("run %s: %v %+v", newID, err, r)
		}
	})

	t.Run("event log follows a running run", func(t *testing.T) {
		newID := submit(t, "epochs: 2\n")
		nav("/ui/runs/" + newID + "/events")
		// A reload would drop this mark: the new event must be appended
		// to the page as it is.
		if err := chromedp.Run(bctx, chromedp.Evaluate(`window.promptmlMark = true`, nil)); err != nil {
			t.Fatal(err)
		}
		const msg = "A new event while the log is open."
		if err := e.Store.AddEvent(ctx, newID, "browser-test", store.Event{Kind: "progress", Message: msg}); err != nil {
			t.Fatal(err)
		}
		var shown bool
		err := chromedp.Run(bctx, chromedp.Poll(fmt.Sprintf(`Array.from(document.querySelectorAll("#events li")).some(li => li.textContent.includes(%q))`, msg),
			&shown, chromedp.WithPollingTimeout(30*time.Second)))
		if err != nil {
			t.Fatalf("the event log never showed an event added while it was open: %v", err)
		}
		var same bool
		if err := chromedp.Run(bctx, chromedp.Evaluate(`window.promptmlMark === true`, &same)); err != nil || !same {
			t.Errorf("the event log was reloaded (%v), want the event appended in place", err)
		}
		// The end of the run reloads the log, which then stops polling.
		e.Drain(t, false)
		if err := chromedp.Run(bctx, chromedp.WaitVisible(`#run-status.s-succeeded`, chromedp.ByQuery)); err != nil {
			t.Fatalf("the event log never showed the run's end: %v", err)
		}
		if n := count(t, bctx, `#events li[data-id]`); n < 5 {
			t.Errorf("event log of the ended run has %d events", n)
		}
	})

	t.Run("start from the form and cancel", func(t *testing.T) {
		nav("/ui/new")
		shoot(t, bctx, dir, "new")
		newID := submit(t, "epochs: 2\nbatch_size: 10\n")
		started, err := e.Store.GetRun(ctx, newID)
		if err != nil {
			t.Fatalf("the form led to %s, not a run: %v", newID, err)
		}
		if started.Status != store.StatusRunning || fmt.Sprint(started.Config["epochs"]) != "2" {
			t.Errorf("started run: status %s, epochs %v; want running with epochs 2 from the form", started.Status, started.Config["epochs"])
		}
		// A batch done: the page's live refresh shows the phase's calls
		// and cost without a reload.
		phases, err := e.Store.ListPhases(ctx, newID)
		if err != nil || len(phases) == 0 || phases[0].State != store.PhasePending {
			t.Fatalf("phases of the started run: %v %+v", err, phases)
		}
		ph := phases[0]
		if _, err := e.Store.CompleteBatch(ctx, newID, ph.ID, store.Batch{N: 0, Usage: store.Usage{Calls: 7, CacheHits: 1, CostUSD: 0.0031}}); err != nil {
			t.Fatal(err)
		}
		progress := fmt.Sprintf("1/%d batches · 7 calls (+1 cached) · $0.0031", ph.TotalBatches)
		var shown bool
		if err := chromedp.Run(bctx, chromedp.Poll(fmt.Sprintf(`document.getElementById("progress").textContent.includes(%q)`, progress),
			&shown, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("the running page's progress never showed %q: %v", progress, err)
		}
		shoot(t, bctx, dir, "running")
		var status string
		err = chromedp.Run(bctx,
			chromedp.Click("#cancel", chromedp.ByID),
			chromedp.WaitVisible(`#run-status.s-cancelled`, chromedp.ByQuery),
			chromedp.Text("#run-status", &status, chromedp.ByID))
		if err != nil {
			t.Fatalf("cancel from the page: %v", err)
		}
		if got, err := e.Store.GetRun(ctx, newID); err != nil || got.Status != store.StatusCancelled {
			t.Errorf("after the cancel button: %v, status %s (page says %q), want cancelled", err, got.Status, status)
		}
		shoot(t, bctx, dir, "cancelled")
	})
}
