package localcloud

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"
)

// Integration tests: they need the emulators RunTests provides, and are
// parallel because most of their time is spent waiting for deliveries.

func pubsubClient(t *testing.T, project string) *pubsub.Client {
	t.Helper()
	c, err := NewPubSubClient(t.Context(), os.Getenv(EnvPubSubHost), project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestEnsureReusesEnvEmulators(t *testing.T) {
	RequireEmulators(t)
	es, err := Ensure(t.Context(), EnsureOptions{})
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	got := []string{es.FirestoreHost, es.PubSubHost}
	if diff := cmp.Diff([]string{os.Getenv(EnvFirestoreHost), os.Getenv(EnvPubSubHost)}, got); diff != "" {
		t.Errorf("hosts mismatch (-want +got):\n%s", diff)
	}
	if err := es.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, h := range got {
		if err := CheckEmulator(t.Context(), h); err != nil {
			t.Errorf("Stop stopped an emulator it did not start: %v", err)
		}
	}
}

func TestFirestoreEmulatorIsolatesProjects(t *testing.T) {
	RequireEmulators(t)
	t.Parallel()
	ctx := t.Context()
	a, b := ProjectID(t), ProjectID(t)
	ca, err := firestore.NewClient(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cb, err := firestore.NewClient(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	if _, err := ca.Doc("runs/r1").Set(ctx, map[string]any{"status": "running"}); err != nil {
		t.Fatalf("Set: %v", err)
	}
	snap, err := ca.Doc("runs/r1").Get(ctx)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got := snap.Data()["status"]; got != "running" {
		t.Errorf("status = %v, want running", got)
	}
	if snap, err := cb.Doc("runs/r1").Get(ctx); err == nil && snap.Exists() {
		t.Error("document visible in another project")
	}
}

// pushBody is the JSON a Pub/Sub push subscription POSTs.
type pushBody struct {
	Message struct {
		Data        []byte            `json:"data"`
		Attributes  map[string]string `json:"attributes"`
		MessageID   string            `json:"messageId"`
		PublishTime time.Time         `json:"publishTime"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// pushRecorder is a push endpoint that records deliveries and fails the
// first `fail` of them with 500.
type pushRecorder struct {
	t    *testing.T
	fail int

	mu    sync.Mutex
	got   []pushBody
	calls int
}

func (p *pushRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var b pushBody
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &b); err != nil {
		p.t.Errorf("push body %s: %v", raw, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	p.got = append(p.got, b)
	if p.calls <= p.fail {
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (p *pushRecorder) deliveries() []pushBody {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]pushBody(nil), p.got...)
}

func TestSetupPubSubPush(t *testing.T) {
	RequireEmulators(t)
	t.Parallel()
	ctx := t.Context()
	project := ProjectID(t)
	client := pubsubClient(t, project)

	first := &pushRecorder{t: t, fail: 1}
	srv := httptest.NewServer(first)
	defer srv.Close()
	routes := []Route{{
		Topic: "promptml-batches", Subscription: "promptml-batches-push", PushEndpoint: srv.URL + "/RunBatch",
		AckDeadline: 30 * time.Second, MinBackoff: time.Second, MaxBackoff: 5 * time.Second,
		MaxDeliveryAttempts: 10, DeadLetterTopic: "promptml-dead-letter",
	}}
	for range 2 { // idempotent
		if err := SetupPubSub(ctx, client, project, routes); err != nil {
			t.Fatalf("SetupPubSub: %v", err)
		}
	}
	id, err := client.Publisher("promptml-batches").Publish(ctx, &pubsub.Message{
		Data: []byte(`{"v":1,"run_id":"r1","phase_id":"p","batch":7}`), Attributes: map[string]string{"k": "v"},
	}).Get(ctx)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if !waitFor(20*time.Second, func() bool { return len(first.deliveries()) >= 2 }) {
		t.Fatalf("got %d deliveries, want the failed one and its redelivery", len(first.deliveries()))
	}
	for i, d := range first.deliveries()[:2] {
		if diff := cmp.Diff(`{"v":1,"run_id":"r1","phase_id":"p","batch":7}`, string(d.Message.Data)); diff != "" {
			t.Errorf("delivery %d data mismatch (-want +got):\n%s", i, diff)
		}
		if d.Message.MessageID != id || d.Message.Attributes["k"] != "v" || d.Message.PublishTime.IsZero() {
			t.Errorf("delivery %d message = %+v, want id %s, attributes k=v and a publish time", i, d.Message, id)
		}
		if want := "projects/" + project + "/subscriptions/promptml-batches-push"; d.Subscription != want {
			t.Errorf("delivery %d subscription = %q, want %q", i, d.Subscription, want)
		}
	}

	// Setting up again with another endpoint (a new `promptml local` run on
	// a reused emulator) re-points the subscription.
	second := &pushRecorder{t: t}
	srv2 := httptest.NewServer(second)
	defer srv2.Close()
	routes[0].PushEndpoint = srv2.URL
	if err := SetupPubSub(ctx, client, project, routes); err != nil {
		t.Fatalf("SetupPubSub again: %v", err)
	}
	if _, err := client.Publisher("promptml-batches").Publish(ctx, &pubsub.Message{Data: []byte("2")}).Get(ctx); err != nil {
		t.Fatal(err)
	}
	if !waitFor(15*time.Second, func() bool { return len(second.deliveries()) >= 1 }) {
		t.Fatal("no delivery to the re-pointed endpoint")
	}
	if n := len(first.deliveries()); n != 2 {
		t.Errorf("old endpoint got %d deliveries, want 2", n)
	}
}

func TestSetupPubSubDeadLetter(t *testing.T) {
	RequireEmulators(t)
	t.Parallel()
	ctx := t.Context()
	project := ProjectID(t)
	client := pubsubClient(t, project)

	failing := &pushRecorder{t: t, fail: 1 << 30}
	srv := httptest.NewServer(failing)
	defer srv.Close()
	err := SetupPubSub(ctx, client, project, []Route{
		{Topic: "work", Subscription: "work-push", PushEndpoint: srv.URL, MaxDeliveryAttempts: 5, DeadLetterTopic: "work-dead"},
		{Topic: "work-dead", Subscription: "work-dead-pull"},
	})
	if err != nil {
		t.Fatalf("SetupPubSub: %v", err)
	}
	if _, err := client.Publisher("work").Publish(ctx, &pubsub.Message{Data: []byte("poison")}).Get(ctx); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var dead *pubsub.Message
	err = client.Subscriber("work-dead-pull").Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		dead = m
		cancel()
	})
	if err != nil || dead == nil {
		t.Fatalf("no dead-lettered message (Receive: %v, %d push attempts)", err, len(failing.deliveries()))
	}
	if string(dead.Data) != "poison" || dead.Attributes["CloudPubSubDeadLetterSourceDeliveryCount"] != "5" {
		t.Errorf("dead letter %q %v, want the message after 5 attempts", dead.Data, dead.Attributes)
	}
	if n := len(failing.deliveries()); n != 5 {
		t.Errorf("%d push attempts, want 5", n)
	}
}

func TestBridgeUploads(t *testing.T) {
	RequireEmulators(t)
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	project := ProjectID(t)
	client := pubsubClient(t, project)

	st, err := StartStorage(ctx, StorageOptions{
		Project: project, Buckets: []string{"artifacts"},
		NotifyBucket: "datasets", NotifyTopic: "dataset-uploads",
		PubSubHost: os.Getenv(EnvPubSubHost),
	})
	if err != nil {
		t.Fatalf("StartStorage: %v", err)
	}
	defer st.Stop()
	if err := SetupPubSub(ctx, client, project, []Route{{Topic: "dataset-uploads", Subscription: "dataset-uploads-bridge"}}); err != nil {
		t.Fatalf("SetupPubSub: %v", err)
	}

	// The function side, as the Functions Framework decodes CloudEvents; it
	// refuses the first delivery to show that a failure is redelivered.
	events := make(chan cloudevents.Event, 10)
	p, err := cloudevents.NewHTTP()
	if err != nil {
		t.Fatal(err)
	}
	receiver, err := cloudevents.NewHTTPReceiveHandler(ctx, p, func(_ context.Context, e cloudevents.Event) {
		events <- e
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := 0
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if r.URL.Path != "/OnDatasetUpload" || r.Header.Get("Ce-Type") == "" {
			t.Errorf("request %s %v: want binary-mode CloudEvent to /OnDatasetUpload", r.URL.Path, r.Header)
		}
		if n == 1 {
			http.Error(w, "cold start", http.StatusServiceUnavailable)
			return
		}
		receiver.ServeHTTP(w, r)
	}))
	defer fn.Close()

	bridgeErr := make(chan error, 1)
	go func() {
		bridgeErr <- BridgeUploads(ctx, client, project, "dataset-uploads-bridge", fn.URL+"/OnDatasetUpload")
	}()

	sc, err := st.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	upload := func(bucket, name, content string) int64 {
		t.Helper()
		w := sc.Bucket(bucket).Object(name).NewWriter(ctx)
		w.ContentType = "text/csv"
		io.WriteString(w, content)
		if err := w.Close(); err != nil {
			t.Fatalf("upload %s/%s: %v", bucket, name, err)
		}
		return w.Attrs().Generation
	}
	upload("datasets", "iris.yaml", "epochs: 1\n") // not *.csv: skipped
	upload("artifacts", "runs/r/data.csv", "x\n")  // other bucket: no notification
	const csv = "user_input,ground_truth_output\n"
	gen := upload("datasets", "iris.csv", csv)

	var ev cloudevents.Event
	select {
	case ev = <-events:
	case err := <-bridgeErr:
		t.Fatalf("BridgeUploads returned early: %v", err)
	case <-time.After(25 * time.Second):
		t.Fatal("no CloudEvent delivered")
	}
	var data struct {
		Bucket, Name, Generation, Metageneration, Size, ContentType string
	}
	if err := ev.DataAs(&data); err != nil {
		t.Fatalf("event data %s: %v", ev.Data(), err)
	}
	got := map[string]string{
		"type": ev.Type(), "source": ev.Source(), "subject": ev.Subject(), "contenttype": ev.DataContentType(),
		"bucket": data.Bucket, "name": data.Name, "generation": data.Generation,
		"metageneration": data.Metageneration, "size": data.Size, "contentType": data.ContentType,
	}
	want := map[string]string{
		"type": StorageFinalizedType, "source": "//storage.googleapis.com/projects/_/buckets/datasets",
		"subject": "objects/iris.csv", "contenttype": "application/json",
		"bucket": "datasets", "name": "iris.csv", "generation": strconv.FormatInt(gen, 10),
		"metageneration": "1", "size": strconv.Itoa(len(csv)), "contentType": "text/csv",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("event mismatch (-want +got):\n%s", diff)
	}
	if ev.ID() == "" || ev.Time().IsZero() {
		t.Errorf("event id %q time %v: want both set", ev.ID(), ev.Time())
	}
	mu.Lock()
	if calls != 2 {
		t.Errorf("%d POSTs, want 2 (the refused one and its redelivery)", calls)
	}
	mu.Unlock()
	select {
	case extra := <-events:
		t.Errorf("unexpected second event for %s", extra.Subject())
	case <-time.After(1500 * time.Millisecond):
	}

	cancel()
	select {
	case err := <-bridgeErr:
		if err != nil {
			t.Errorf("BridgeUploads: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("BridgeUploads did not return after cancel")
	}
}

func TestBridgeUploadsNeedsSubscription(t *testing.T) {
	RequireEmulators(t)
	t.Parallel()
	project := ProjectID(t)
	err := BridgeUploads(t.Context(), pubsubClient(t, project), project, "missing-sub", "http://127.0.0.1:1/")
	if err == nil || !strings.Contains(err.Error(), "SetupPubSub") {
		t.Errorf("BridgeUploads without a subscription = %v, want an error naming SetupPubSub", err)
	}
}
