package store

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/promptml/promptml/shared/localcloud"
)

func TestMain(m *testing.M) { os.Exit(localcloud.RunTests(m)) }

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newStore returns a Store on a fresh emulator project.
func newStore(t *testing.T) *Store {
	t.Helper()
	localcloud.RequireEmulators(t)
	fs, err := firestore.NewClient(t.Context(), localcloud.ProjectID(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return New(fs)
}

// withClock gives s a manual clock starting at a fixed instant.
func withClock(s *Store) *clock {
	c := &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	s.now = c.now
	return c
}

func mustCreateRun(t *testing.T, s *Store, r *Run) {
	t.Helper()
	if err := s.CreateRun(t.Context(), r); err != nil {
		t.Fatal(err)
	}
}

func countDocs(t *testing.T, q firestore.Query) int {
	t.Helper()
	snaps, err := q.Documents(t.Context()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	return len(snaps)
}

func TestCreateRunForUploadDedupes(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	key := UploadKey("datasets", "a.csv", 7)
	id1, created1, err := s.CreateRunForUpload(ctx, key, &Run{ID: "run-1", Status: StatusRunning})
	if err != nil {
		t.Fatal(err)
	}
	if id1 != "run-1" || !created1 {
		t.Fatalf("first CreateRunForUpload = %q, %v; want run-1, true", id1, created1)
	}
	id2, created2, err := s.CreateRunForUpload(ctx, key, &Run{ID: "run-2", Status: StatusRunning})
	if err != nil {
		t.Fatal(err)
	}
	if id2 != "run-1" || created2 {
		t.Errorf("second CreateRunForUpload = %q, %v; want run-1, false", id2, created2)
	}
	if n := countDocs(t, s.fs.Collection("runs").Query); n != 1 {
		t.Errorf("%d run documents, want 1", n)
	}
	if _, err := s.GetRun(ctx, "run-2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetRun(run-2) = %v, want ErrNotFound", err)
	}
	// Another generation of the same object is another upload.
	id3, created3, err := s.CreateRunForUpload(ctx, UploadKey("datasets", "a.csv", 8), &Run{ID: "run-3", Status: StatusRunning})
	if err != nil || id3 != "run-3" || !created3 {
		t.Errorf("new generation: CreateRunForUpload = %q, %v, %v; want run-3, true, nil", id3, created3, err)
	}
}

func TestCreateRunForUploadConcurrent(t *testing.T) {
	s := newStore(t)
	key := UploadKey("datasets", "b.csv", 1)
	const n = 4
	ids := make([]string, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ids[i], created[i], errs[i] = s.CreateRunForUpload(t.Context(), key, &Run{ID: fmt.Sprintf("run-%d", i), Status: StatusRunning})
		})
	}
	wg.Wait()
	nCreated := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Errorf("call %d returned run %q, call 0 %q", i, ids[i], ids[0])
		}
		if created[i] {
			nCreated++
		}
	}
	if nCreated != 1 {
		t.Errorf("%d calls reported created, want 1", nCreated)
	}
	if got := countDocs(t, s.fs.Collection("runs").Query); got != 1 {
		t.Errorf("%d run documents, want 1", got)
	}
}

func TestUploadKey(t *testing.T) {
	a := UploadKey("b", "o.csv", 1)
	for _, other := range []string{UploadKey("b", "o.csv", 2), UploadKey("b2", "o.csv", 1), UploadKey("b", "o2.csv", 1), UploadKey("b\x00o.csv", "", 1)} {
		if other == a {
			t.Errorf("UploadKey collision: %s", a)
		}
	}
	if UploadKey("b", "o.csv", 1) != a {
		t.Error("UploadKey is not deterministic")
	}
}

func TestCompleteBatchFanIn(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	mustCreateRun(t, s, &Run{ID: "r", Status: StatusRunning})
	const n = 8
	if _, err := s.EnsurePhase(ctx, "r", &Phase{ID: "val-p1", Split: "val", PromptID: "p1", TotalBatches: n}); err != nil {
		t.Fatal(err)
	}
	var triggered atomic.Int32
	errs := make(chan error, 2*n)
	var wg sync.WaitGroup
	for b := range n {
		for range 2 { // every batch is delivered twice
			wg.Go(func() {
				tr, err := s.CompleteBatch(ctx, "r", "val-p1", Batch{N: b, Examples: 3, Scored: 3, Sum: 2, Passed: 2})
				if tr {
					triggered.Add(1)
				}
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("CompleteBatch: %v", err)
		}
	}
	if triggered.Load() == 0 {
		t.Error("no CompleteBatch call reported the phase triggered")
	}
	ph, err := s.GetPhase(ctx, "r", "val-p1")
	if err != nil {
		t.Fatal(err)
	}
	if ph.State != PhaseTriggered {
		t.Errorf("phase state = %q, want %q", ph.State, PhaseTriggered)
	}
	if ph.TriggeredAt.IsZero() {
		t.Error("phase has no triggered_at")
	}
	bs, err := s.ListBatches(ctx, "r", "val-p1")
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != n {
		t.Errorf("%d done batches, want %d", len(bs), n)
	}
	// A late duplicate still reports triggered (so it republishes) and
	// changes nothing.
	tr, err := s.CompleteBatch(ctx, "r", "val-p1", Batch{N: 3})
	if err != nil || !tr {
		t.Errorf("late duplicate: CompleteBatch = %v, %v; want true, nil", tr, err)
	}
	b3, ok, err := s.GetBatch(ctx, "r", "val-p1", 3)
	if err != nil || !ok || b3.Examples != 3 {
		t.Errorf("batch 3 after a late duplicate = %+v, %v, %v; want the first write (3 examples)", b3, ok, err)
	}
}

func TestCheckPhaseCompleteBeforeAllBatches(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	mustCreateRun(t, s, &Run{ID: "r", Status: StatusRunning})
	if _, err := s.EnsurePhase(ctx, "r", &Phase{ID: "train-p1", Split: "train", PromptID: "p1", TotalBatches: 3}); err != nil {
		t.Fatal(err)
	}
	for b := range 2 {
		tr, err := s.CompleteBatch(ctx, "r", "train-p1", Batch{N: b})
		if err != nil || tr {
			t.Fatalf("CompleteBatch(%d of 3) = %v, %v; want false, nil", b, tr, err)
		}
	}
	// A duplicate of a done batch does not count twice.
	if tr, err := s.CompleteBatch(ctx, "r", "train-p1", Batch{N: 1}); err != nil || tr {
		t.Fatalf("duplicate CompleteBatch = %v, %v; want false, nil", tr, err)
	}
	if tr, err := s.CheckPhaseComplete(ctx, "r", "train-p1"); err != nil || tr {
		t.Errorf("CheckPhaseComplete with 2 of 3 = %v, %v; want false, nil", tr, err)
	}
	ph, err := s.GetPhase(ctx, "r", "train-p1")
	if err != nil {
		t.Fatal(err)
	}
	if ph.State != PhasePending {
		t.Errorf("state = %q, want pending", ph.State)
	}
	if b, ok, err := s.GetBatch(ctx, "r", "train-p1", 2); err != nil || ok || b.Done || b.N != 2 {
		t.Errorf("GetBatch(never started) = %+v, %v, %v; want N=2 not done, ok=false", b, ok, err)
	}
	if tr, err := s.CompleteBatch(ctx, "r", "train-p1", Batch{N: 2}); err != nil || !tr {
		t.Errorf("last CompleteBatch = %v, %v; want true, nil", tr, err)
	}
	if _, err := s.CheckPhaseComplete(ctx, "r", "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("CheckPhaseComplete(missing) = %v, want ErrNotFound", err)
	}
}

func TestClaimPhase(t *testing.T) {
	s := newStore(t)
	c := withClock(s)
	ctx := t.Context()
	mustCreateRun(t, s, &Run{ID: "r", Status: StatusRunning})
	if _, err := s.EnsurePhase(ctx, "r", &Phase{ID: "val-p1", TotalBatches: 1}); err != nil {
		t.Fatal(err)
	}
	const lease = time.Minute

	// A pending phase cannot be claimed.
	if _, ok, err := s.ClaimPhase(ctx, "r", "val-p1", "a", lease); err != nil || ok {
		t.Fatalf("ClaimPhase(pending) ok=%v err=%v; want false, nil", ok, err)
	}
	if _, err := s.CompleteBatch(ctx, "r", "val-p1", Batch{N: 0}); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name    string
		advance time.Duration
		holder  string
		wantOK  bool
		// wantHolder holds the lease afterwards.
		wantHolder string
	}{
		{"first claim", 0, "a", true, "a"},
		{"other holder before expiry", 30 * time.Second, "b", false, "a"},
		{"same holder re-claims", 0, "a", true, "a"},
		{"other holder still before the renewed expiry", 45 * time.Second, "b", false, "a"},
		{"other holder after expiry takes over", 16 * time.Second, "b", true, "b"},
		{"old holder is locked out", 0, "a", false, "b"},
	}
	for _, st := range steps {
		c.advance(st.advance)
		ph, ok, err := s.ClaimPhase(ctx, "r", "val-p1", st.holder, lease)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if ok != st.wantOK {
			t.Errorf("%s: ok = %v, want %v", st.name, ok, st.wantOK)
		}
		if ph.State != PhaseRunning || ph.Lease == nil || ph.Lease.Holder != st.wantHolder {
			t.Errorf("%s: phase = %s lease %+v, want running held by %s", st.name, ph.State, ph.Lease, st.wantHolder)
		}
		if st.wantOK && !ph.Lease.Expires.Equal(c.now().Add(lease)) {
			t.Errorf("%s: lease expires %v, want %v", st.name, ph.Lease.Expires, c.now().Add(lease))
		}
		stored, err := s.GetPhase(ctx, "r", "val-p1")
		if err != nil {
			t.Fatal(err)
		}
		if stored.Lease == nil || stored.Lease.Holder != st.wantHolder {
			t.Errorf("%s: stored lease %+v, want held by %s", st.name, stored.Lease, st.wantHolder)
		}
	}

	// A done phase is never claimed again.
	if err := s.FinishPhase(ctx, "r", "val-p1", Phase{}); err != nil {
		t.Fatal(err)
	}
	c.advance(time.Hour)
	ph, ok, err := s.ClaimPhase(ctx, "r", "val-p1", "c", lease)
	if err != nil || ok || ph.State != PhaseDone {
		t.Errorf("ClaimPhase(done) = %s, %v, %v; want done, false, nil", ph.State, ok, err)
	}
	if _, _, err := s.ClaimPhase(ctx, "r", "missing", "a", lease); !errors.Is(err, ErrNotFound) {
		t.Errorf("ClaimPhase(missing) = %v, want ErrNotFound", err)
	}
}

func TestClaimPhaseConcurrent(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	mustCreateRun(t, s, &Run{ID: "r", Status: StatusRunning})
	if _, err := s.EnsurePhase(ctx, "r", &Phase{ID: "val-p1", TotalBatches: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteBatch(ctx, "r", "val-p1", Batch{N: 0}); err != nil {
		t.Fatal(err)
	}
	const n = 6
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, ok, err := s.ClaimPhase(ctx, "r", "val-p1", fmt.Sprintf("h%d", i), time.Hour)
			if err != nil {
				t.Errorf("ClaimPhase(h%d): %v", i, err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d holders claimed the phase, want exactly 1", wins.Load())
	}
}

// TestFinishPhaseCountsErrorsOnce: a phase adds its errors (unscored
// examples) to the run once, however often it is finished; its calls,
// tokens and cost stay on the phase (the run's are its spend ledger's sums,
// RunSpend).
func TestFinishPhaseCountsErrorsOnce(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	base := Usage{Calls: 1, InputTokens: 1, OutputTokens: 1}
	mustCreateRun(t, s, &Run{ID: "r", Status: StatusRunning, Usage: base})
	if _, err := s.EnsurePhase(ctx, "r", &Phase{ID: "val-p1", TotalBatches: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteBatch(ctx, "r", "val-p1", Batch{N: 0}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.ClaimPhase(ctx, "r", "val-p1", "a", time.Minute); err != nil || !ok {
		t.Fatalf("ClaimPhase = %v, %v", ok, err)
	}
	u := Usage{Calls: 10, InputTokens: 200, OutputTokens: 30, Errors: 2}
	corpus := 0.5
	for i := range 2 {
		if err := s.FinishPhase(ctx, "r", "val-p1", Phase{Usage: u, Corpus: &corpus}); err != nil {
			t.Fatalf("FinishPhase #%d: %v", i+1, err)
		}
	}
	r, err := s.GetRun(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(base.Add(Usage{Errors: u.Errors}), r.Usage); diff != "" {
		t.Errorf("run usage after two FinishPhase (-want +got):\n%s", diff)
	}
	ph, err := s.GetPhase(ctx, "r", "val-p1")
	if err != nil {
		t.Fatal(err)
	}
	if ph.State != PhaseDone || ph.Lease != nil || ph.Usage != u || ph.Corpus == nil || *ph.Corpus != corpus || ph.DoneAt.IsZero() {
		t.Errorf("phase after FinishPhase = %+v, want done, no lease, usage %+v, corpus %v", ph, u, corpus)
	}
}

func TestUpdateRunConcurrentIncrements(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	mustCreateRun(t, s, &Run{ID: "r", Status: StatusRunning})
	const n = 10
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := s.UpdateRun(ctx, "r", func(r *Run) error {
				r.StaleEpochs++
				return nil
			}); err != nil {
				t.Errorf("UpdateRun: %v", err)
			}
		})
	}
	wg.Wait()
	r, err := s.GetRun(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if r.StaleEpochs != n {
		t.Errorf("StaleEpochs = %d after %d concurrent increments", r.StaleEpochs, n)
	}
}

func TestUpdateRun(t *testing.T) {
	s := newStore(t)
	c := withClock(s)
	ctx := t.Context()
	mustCreateRun(t, s, &Run{ID: "r", Status: StatusRunning, Epoch: 2, Pending: []string{"a", "b"},
		Lease: &Lease{Holder: "h", Expires: c.now().Add(time.Minute)}, Error: &RunError{Message: "x"}})
	before, err := s.GetRun(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	snapBefore, err := s.run("r").Get(ctx)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("ErrSkip leaves the document unchanged", func(t *testing.T) {
		c.advance(time.Second)
		got, err := s.UpdateRun(ctx, "r", func(r *Run) error {
			r.Epoch = 99
			return ErrSkip
		})
		if err != nil {
			t.Fatalf("UpdateRun(ErrSkip) = %v, want nil", err)
		}
		if got == nil {
			t.Fatal("UpdateRun(ErrSkip) returned a nil run")
		}
		after, err := s.run("r").Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !after.UpdateTime.Equal(snapBefore.UpdateTime) {
			t.Errorf("document written: update time %v → %v", snapBefore.UpdateTime, after.UpdateTime)
		}
		stored, err := s.GetRun(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, stored); diff != "" {
			t.Errorf("run changed (-before +after):\n%s", diff)
		}
	})

	t.Run("other error is returned and nothing written", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := s.UpdateRun(ctx, "r", func(r *Run) error {
			r.Epoch = 99
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("UpdateRun = %v, want boom", err)
		}
		stored, err := s.GetRun(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		if stored.Epoch != 2 {
			t.Errorf("Epoch = %d, want 2", stored.Epoch)
		}
	})

	t.Run("write clears omitempty fields set to nil and sets updated_at", func(t *testing.T) {
		c.advance(time.Second)
		got, err := s.UpdateRun(ctx, "r", func(r *Run) error {
			r.Epoch = 3
			r.Lease = nil
			r.Error = nil
			r.Pending = []string{"c"}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		stored, err := s.GetRun(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, stored); diff != "" {
			t.Errorf("returned run differs from stored (-returned +stored):\n%s", diff)
		}
		if stored.Epoch != 3 || stored.Lease != nil || stored.Error != nil || !cmp.Equal(stored.Pending, []string{"c"}) {
			t.Errorf("stored run = epoch %d lease %+v error %+v pending %v", stored.Epoch, stored.Lease, stored.Error, stored.Pending)
		}
		if !stored.UpdatedAt.Equal(c.now()) || !stored.CreatedAt.Equal(before.CreatedAt) {
			t.Errorf("timestamps created %v updated %v, want created %v updated %v", stored.CreatedAt, stored.UpdatedAt, before.CreatedAt, c.now())
		}
	})

	t.Run("missing run", func(t *testing.T) {
		if _, err := s.UpdateRun(ctx, "missing", func(*Run) error { return nil }); !errors.Is(err, ErrNotFound) {
			t.Errorf("UpdateRun(missing) = %v, want ErrNotFound", err)
		}
	})
}

func TestSetPublishedOnlyMovesForward(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	mustCreateRun(t, s, &Run{ID: "r", Status: StatusRunning})
	for _, seq := range []int{2, 1, 3, 3} {
		if err := s.SetPublished(ctx, "r", seq); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.GetRun(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if r.PublishedSeq != 3 {
		t.Errorf("PublishedSeq = %d, want 3", r.PublishedSeq)
	}
}

func TestEnsurePhaseReturnsExisting(t *testing.T) {
	s := newStore(t)
	c := withClock(s)
	ctx := t.Context()
	mustCreateRun(t, s, &Run{ID: "r", Status: StatusRunning})
	first, err := s.EnsurePhase(ctx, "r", &Phase{ID: "train-p1", Split: "train", PromptID: "p1", TotalBatches: 4})
	if err != nil {
		t.Fatal(err)
	}
	if first.State != PhasePending || !first.CreatedAt.Equal(c.now()) {
		t.Errorf("new phase = %+v, want pending created now", first)
	}
	c.advance(time.Minute)
	second, err := s.EnsurePhase(ctx, "r", &Phase{ID: "train-p1", Split: "val", PromptID: "p2", TotalBatches: 9, State: PhaseDone})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("second EnsurePhase (-first +second):\n%s", diff)
	}
	stored, err := s.GetPhase(ctx, "r", "train-p1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, stored); diff != "" {
		t.Errorf("stored phase (-first +stored):\n%s", diff)
	}
	phases, err := s.ListPhases(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if len(phases) != 1 {
		t.Errorf("%d phases, want 1", len(phases))
	}
}

func TestAddEventDedupes(t *testing.T) {
	s := newStore(t)
	c := withClock(s)
	ctx := t.Context()
	mustCreateRun(t, s, &Run{ID: "r", Status: StatusRunning})
	if err := s.AddEvent(ctx, "r", "epoch-1-decision", Event{Kind: "decision", Message: "accepted", Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	c.advance(time.Second)
	if err := s.AddEvent(ctx, "r", "epoch-1-decision", Event{Kind: "decision", Message: "accepted again", Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	c.advance(time.Second)
	if err := s.AddEvent(ctx, "r", "epoch-2-decision", Event{Kind: "decision", Message: "rejected", Epoch: 2}); err != nil {
		t.Fatal(err)
	}
	evs, err := s.ListEvents(ctx, "r", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range evs {
		msgs = append(msgs, e.Message)
	}
	if diff := cmp.Diff([]string{"accepted", "rejected"}, msgs); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	// ListEvents after the first event's time returns only the later one.
	later, err := s.ListEvents(ctx, "r", evs[0].Time)
	if err != nil {
		t.Fatal(err)
	}
	if len(later) != 1 || later[0].Message != "rejected" {
		t.Errorf("ListEvents(after first) = %d events, want only the second", len(later))
	}
}

func TestListRuns(t *testing.T) {
	s := newStore(t)
	c := withClock(s)
	ctx := t.Context()
	for i, st := range []RunStatus{StatusSucceeded, StatusRunning, StatusFailed, StatusSucceeded} {
		c.advance(time.Minute)
		mustCreateRun(t, s, &Run{ID: fmt.Sprintf("run-%d", i), Status: st})
	}
	ids := func(rs []*Run) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	tests := []struct {
		status RunStatus
		limit  int
		want   []string
	}{
		{"", 0, []string{"run-3", "run-2", "run-1", "run-0"}},
		{"", 2, []string{"run-3", "run-2"}},
		{StatusSucceeded, 0, []string{"run-3", "run-0"}},
		{StatusRunning, 0, []string{"run-1"}},
		{StatusCancelled, 0, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("status=%q limit=%d", tt.status, tt.limit), func(t *testing.T) {
			rs, err := s.ListRuns(ctx, tt.status, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ids(rs), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ListRuns (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGetRunMissing(t *testing.T) {
	s := newStore(t)
	if _, err := s.GetRun(t.Context(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetRun(missing) = %v, want ErrNotFound", err)
	}
	if _, err := s.GetPrompt(t.Context(), "nope", "p"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetPrompt(missing) = %v, want ErrNotFound", err)
	}
	if _, err := s.GetPhase(t.Context(), "nope", "p"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetPhase(missing) = %v, want ErrNotFound", err)
	}
	if _, ok, err := s.GetEpoch(t.Context(), "nope", 1); err != nil || ok {
		t.Errorf("GetEpoch(missing) = %v, %v; want false, nil", ok, err)
	}
}

func TestRunRoundTrip(t *testing.T) {
	s := newStore(t)
	withClock(s)
	ctx := t.Context()
	want := &Run{
		ID: "r", Status: StatusRunning, Stage: StageBaseline, StageSeq: 1, Pending: []string{"train-p1", "val-p1"},
		Config:  map[string]any{"epochs": int64(3), "split": map[string]any{"seed": int64(42)}},
		Source:  Source{Kind: "upload", Bucket: "b", Object: "o.csv", Generation: 5},
		Dataset: Dataset{URI: "gs://b/o.csv", Generation: 5, Rows: 10, Counts: map[string]int{"train": 6, "val": 2, "test": 2}, Batches: map[string]int{"train": 1, "val": 1, "test": 1}},
		Usage:   Usage{Calls: 3},
	}
	mustCreateRun(t, s, want)
	got, err := s.GetRun(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetRun (-created +read):\n%s", diff)
	}
}

func TestPrompts(t *testing.T) {
	s := newStore(t)
	c := withClock(s)
	ctx := t.Context()
	mustCreateRun(t, s, &Run{ID: "r", Status: StatusRunning})
	p0 := &Prompt{ID: "p0", System: "s", Output: "o", Examples: []Demo{}, Status: PromptInitial}
	if err := s.PutPrompt(ctx, "r", p0); err != nil {
		t.Fatal(err)
	}
	c.advance(time.Second)
	p1 := &Prompt{ID: "p1", System: "s2", Output: "o2", Examples: []Demo{{Input: "i", Output: "o"}}, Parent: "p0", Epoch: 1, Reasoning: "why", Status: PromptCandidate}
	if err := s.PutPrompt(ctx, "r", p1); err != nil {
		t.Fatal(err)
	}
	// Putting the same id again keeps the first version.
	if err := s.PutPrompt(ctx, "r", &Prompt{ID: "p0", System: "other"}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdatePrompt(ctx, "r", "p1", map[string]any{"status": PromptAccepted}); err != nil {
		t.Fatal(err)
	}
	ps, err := s.ListPrompts(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	p1.Status = PromptAccepted
	if diff := cmp.Diff([]*Prompt{p0, p1}, ps, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("ListPrompts (-want +got):\n%s", diff)
	}
}

func TestEpochs(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	mustCreateRun(t, s, &Run{ID: "r", Status: StatusRunning})
	for _, n := range []int{2, 10, 1} {
		if err := s.PutEpoch(ctx, "r", &Epoch{N: n, Decision: DecisionRejected}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutEpoch(ctx, "r", &Epoch{N: 2, Decision: DecisionAccepted}); err != nil {
		t.Fatal(err)
	}
	es, err := s.ListEpochs(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, fmt.Sprintf("%d %s", e.N, e.Decision))
	}
	if diff := cmp.Diff([]string{"1 rejected", "2 accepted", "10 rejected"}, got); diff != "" {
		t.Errorf("ListEpochs (-want +got):\n%s", diff)
	}
	e, ok, err := s.GetEpoch(ctx, "r", 2)
	if err != nil || !ok || e.Decision != DecisionAccepted {
		t.Errorf("GetEpoch(2) = %+v, %v, %v", e, ok, err)
	}
}

func TestReleasePhase(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	mustCreateRun(t, s, &Run{ID: "r", Status: StatusRunning})
	if _, err := s.EnsurePhase(ctx, "r", &Phase{ID: "val-p1", TotalBatches: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteBatch(ctx, "r", "val-p1", Batch{N: 0}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.ClaimPhase(ctx, "r", "val-p1", "a", time.Hour); err != nil || !ok {
		t.Fatalf("ClaimPhase(a) ok=%v err=%v", ok, err)
	}
	// Only the holder can release.
	if err := s.ReleasePhase(ctx, "r", "val-p1", "b"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.ClaimPhase(ctx, "r", "val-p1", "b", time.Hour); ok {
		t.Fatal("b claimed a phase a still holds")
	}
	if err := s.ReleasePhase(ctx, "r", "val-p1", "a"); err != nil {
		t.Fatal(err)
	}
	ph, err := s.GetPhase(ctx, "r", "val-p1")
	if err != nil || ph.State != PhaseTriggered || ph.Lease != nil {
		t.Fatalf("after release: %+v %v; want triggered with no lease", ph, err)
	}
	if _, ok, err := s.ClaimPhase(ctx, "r", "val-p1", "b", time.Hour); err != nil || !ok {
		t.Errorf("ClaimPhase(b) after release ok=%v err=%v; want true", ok, err)
	}
}
