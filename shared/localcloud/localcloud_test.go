package localcloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/storage"
	"github.com/google/go-cmp/cmp"
)

const aptHint = "apt-get install google-cloud-cli-firestore-emulator google-cloud-cli-pubsub-emulator openjdk-17-jre-headless"

func TestProjectID(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	tests := []struct {
		name, testName, want string
	}{
		{"simple", "TestFoo", "t-testfoo-0000002a"},
		{"subtest", "TestFoo/bar_baz", "t-testfoo-bar-baz-0000002a"},
		{"long name truncated", "TestAVeryLongTestNameThatGoesOnAndOn/sub", "t-testaverylongtestna-0000002a"},
		{"no letters", "///", "t-0000002a"},
		{"trailing separators", "TestX__", "t-testx-0000002a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := projectID(tt.testName, 42)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("projectID(%q) mismatch (-want +got):\n%s", tt.testName, diff)
			}
			if !valid.MatchString(got) {
				t.Errorf("projectID(%q) = %q, not a valid project id", tt.testName, got)
			}
		})
	}
	if a, b := ProjectID(t), ProjectID(t); a == b {
		t.Errorf("ProjectID returned %q twice", a)
	}
}

func TestTailBuffer(t *testing.T) {
	tb := &tailBuffer{max: 8}
	for _, s := range []string{"hello ", "wor", "ld, and more"} {
		if _, err := io.WriteString(tb, s); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff("and more", tb.String()); diff != "" {
		t.Errorf("tail mismatch (-want +got):\n%s", diff)
	}
}

func TestCheckEmulator(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr bool
	}{
		{"ok", http.StatusOK, "Ok\n", false},
		{"wrong body", http.StatusOK, "hello", true},
		{"server error", http.StatusInternalServerError, "Ok", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			err := CheckEmulator(t.Context(), strings.TrimPrefix(srv.URL, "http://"))
			if (err != nil) != tt.wantErr {
				t.Errorf("CheckEmulator() = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func TestStartMissingInstall(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	tests := []struct {
		name  string
		start func(context.Context, EmulatorOptions) (*Emulator, error)
		opts  EmulatorOptions
		want  string
	}{
		{"firestore jar", StartFirestore, EmulatorOptions{JarPath: missing}, "Firestore emulator jar not found"},
		{"pubsub launcher", StartPubSub, EmulatorOptions{LauncherPath: missing}, "Pub/Sub emulator launcher not found"},
		{"java for firestore", StartFirestore, EmulatorOptions{JavaPath: missing}, "java runtime"},
		{"java for pubsub", StartPubSub, EmulatorOptions{JavaPath: missing}, "java runtime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := tt.start(t.Context(), tt.opts)
			if err == nil {
				e.Stop()
				t.Fatal("started, want an error")
			}
			for _, want := range []string{tt.want, aptHint, envFirestoreJar, envPubSubLauncher} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

// fakeLauncher returns the options that run this test binary as a fake
// Pub/Sub emulator launcher (see fakeEmulatorMain).
func fakeLauncher(t *testing.T) EmulatorOptions {
	t.Helper()
	java, err := os.Executable() // any executable will do: the fake needs no Java
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envFakeEmulator, "server")
	return EmulatorOptions{LauncherPath: os.Args[0], JavaPath: java}
}

func TestStartReportsOutputOfFailedEmulator(t *testing.T) {
	opts := fakeLauncher(t)
	t.Setenv(envFakeFail, "java.net.BindException: boom")
	start := time.Now()
	_, err := StartPubSub(t.Context(), opts)
	if err == nil {
		t.Fatal("StartPubSub succeeded, want an error")
	}
	if !errors.Is(err, errExitedEarly) || !strings.Contains(err.Error(), "java.net.BindException: boom") {
		t.Errorf("error %q: want errExitedEarly with the emulator's output", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("failure took %s to report; want it as soon as the process exits", d)
	}
}

func TestEnsureUsesRunningEmulators(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "Ok") }))
	defer ok.Close()
	host := strings.TrimPrefix(ok.URL, "http://")
	closed := closedPort(t)

	tests := []struct {
		name              string
		firestore, pubsub string
		wantErr           bool
	}{
		{name: "both running", firestore: host, pubsub: host},
		{name: "firestore down", firestore: closed, pubsub: host, wantErr: true},
		{name: "pubsub down", firestore: host, pubsub: closed, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvFirestoreHost, tt.firestore)
			t.Setenv(EnvPubSubHost, tt.pubsub)
			// Missing launchers prove nothing is started.
			bad := EmulatorOptions{JarPath: "/nonexistent", LauncherPath: "/nonexistent"}
			es, err := Ensure(t.Context(), EnsureOptions{Firestore: bad, PubSub: bad})
			if tt.wantErr {
				if err == nil {
					t.Fatal("Ensure succeeded, want an error")
				}
				if !strings.Contains(err.Error(), closed) {
					t.Errorf("error %q does not name the dead host %s", err, closed)
				}
				return
			}
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			got := []string{es.FirestoreHost, es.PubSubHost}
			if diff := cmp.Diff([]string{tt.firestore, tt.pubsub}, got); diff != "" {
				t.Errorf("hosts mismatch (-want +got):\n%s", diff)
			}
			if len(es.started) != 0 {
				t.Errorf("Ensure started %d emulators, want none", len(es.started))
			}
			if err := es.Stop(); err != nil {
				t.Errorf("Stop: %v", err)
			}
		})
	}
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestStorageEvent(t *testing.T) {
	published := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	payload := `{"kind":"storage#object","id":"datasets/iris.csv/1767322800000000","name":"iris.csv",` +
		`"bucket":"datasets","generation":"1767322800000000","contentType":"text/csv",` +
		`"timeCreated":"2026-01-02T03:04:05.000000Z","updated":"2026-01-02T03:04:05.000000Z",` +
		`"storageClass":"STANDARD","size":"42","md5Hash":"abc==","crc32c":"def=="}`
	attrs := func(eventType, object string) map[string]string {
		return map[string]string{
			"bucketId": "datasets", "objectId": object, "objectGeneration": "1767322800000000",
			"eventType": eventType, "eventTime": "2026-01-02T03:04:06Z", "payloadFormat": "JSON_API_V1",
		}
	}
	tests := []struct {
		name     string
		msg      *pubsub.Message
		wantSkip bool
		wantErr  bool
		want     map[string]string // CloudEvent attributes and data fields
	}{
		{
			name: "finalized csv",
			msg:  &pubsub.Message{ID: "17", Data: []byte(payload), Attributes: attrs("OBJECT_FINALIZE", "iris.csv"), PublishTime: published},
			want: map[string]string{
				"id": "17", "type": StorageFinalizedType, "source": "//storage.googleapis.com/projects/_/buckets/datasets",
				"subject": "objects/iris.csv", "time": "2026-01-02T03:04:06Z", "datacontenttype": "application/json",
				"data.bucket": "datasets", "data.name": "iris.csv", "data.generation": "1767322800000000",
				"data.metageneration": "1", "data.size": "42", "data.contentType": "text/csv", "data.md5Hash": "abc==",
				"data.crc32c": "def==", "data.timeCreated": "2026-01-02T03:04:05.000000Z", "data.updated": "2026-01-02T03:04:05.000000Z",
			},
		},
		{
			name:     "not csv",
			msg:      &pubsub.Message{ID: "18", Data: []byte(strings.ReplaceAll(payload, "iris.csv", "iris.yaml")), Attributes: attrs("OBJECT_FINALIZE", "iris.yaml")},
			wantSkip: true,
		},
		{
			name:     "delete event",
			msg:      &pubsub.Message{ID: "19", Data: []byte(payload), Attributes: attrs("OBJECT_DELETE", "iris.csv")},
			wantSkip: true,
		},
		{
			name:    "malformed payload",
			msg:     &pubsub.Message{ID: "20", Data: []byte("{"), Attributes: attrs("OBJECT_FINALIZE", "iris.csv")},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := storageEvent(tt.msg)
			switch {
			case tt.wantSkip:
				if !errors.Is(err, errSkip) {
					t.Fatalf("storageEvent() error = %v, want errSkip", err)
				}
				return
			case tt.wantErr:
				if err == nil || errors.Is(err, errSkip) {
					t.Fatalf("storageEvent() error = %v, want a decoding error", err)
				}
				return
			case err != nil:
				t.Fatalf("storageEvent(): %v", err)
			}
			if diff := cmp.Diff(tt.want, eventFields(t, ev.ID(), ev.Type(), ev.Source(), ev.Subject(), ev.Time(), ev.DataContentType(), ev.Data())); diff != "" {
				t.Errorf("event mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// eventFields flattens a storage CloudEvent for comparison.
func eventFields(t *testing.T, id, typ, source, subject string, tm time.Time, contentType string, data []byte) map[string]string {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("event data %q: %v", data, err)
	}
	got := map[string]string{
		"id": id, "type": typ, "source": source, "subject": subject,
		"time": tm.UTC().Format(time.RFC3339Nano), "datacontenttype": contentType,
	}
	for _, k := range []string{"bucket", "name", "generation", "metageneration", "size", "contentType", "md5Hash", "crc32c", "timeCreated", "updated"} {
		if v, ok := d[k]; ok {
			got["data."+k] = fmt.Sprint(v)
		}
	}
	return got
}

func TestStorageUploads(t *testing.T) {
	ctx := t.Context()
	st, err := StartStorage(ctx, StorageOptions{Buckets: []string{"datasets", "artifacts"}})
	if err != nil {
		t.Fatalf("StartStorage: %v", err)
	}
	defer st.Stop()
	if !strings.HasPrefix(st.URL, "http://127.0.0.1:") || st.URL != "http://"+st.Host {
		t.Errorf("URL %q, Host %q: want plain HTTP on 127.0.0.1", st.URL, st.Host)
	}
	client, err := st.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	big := strings.Repeat("question,answer\n", 64<<10) // 1 MiB: several resumable chunks
	tests := []struct {
		name, bucket, object, content string
		chunkSize                     int
	}{
		// ChunkSize 0 sends everything in one multipart (simple) request.
		{"simple upload", "datasets", "iris.csv", "q,a\n1,2\n", 0},
		{"resumable upload", "artifacts", "runs/r1/data/train/0.jsonl", big, 256 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := client.Bucket(tt.bucket).Object(tt.object)
			w := obj.NewWriter(ctx)
			w.ChunkSize = tt.chunkSize
			w.ContentType = "text/csv"
			if _, err := io.WriteString(w, tt.content); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Writer.Close: %v", err)
			}
			if w.Attrs().Generation == 0 {
				t.Error("writer attrs have no generation")
			}
			attrs, err := obj.Attrs(ctx)
			if err != nil {
				t.Fatalf("Attrs: %v", err)
			}
			if attrs.Generation != w.Attrs().Generation || attrs.Size != int64(len(tt.content)) {
				t.Errorf("attrs generation %d size %d, want %d %d", attrs.Generation, attrs.Size, w.Attrs().Generation, len(tt.content))
			}
			r, err := obj.Generation(attrs.Generation).NewReader(ctx)
			if err != nil {
				t.Fatalf("NewReader: %v", err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.content {
				t.Errorf("read back %d bytes, want %d", len(got), len(tt.content))
			}
			// A new upload of the same name is a new generation.
			w2 := obj.NewWriter(ctx)
			io.WriteString(w2, "again")
			if err := w2.Close(); err != nil {
				t.Fatal(err)
			}
			if w2.Attrs().Generation == attrs.Generation {
				t.Errorf("re-upload kept generation %d", attrs.Generation)
			}
		})
	}
	if _, err := client.Bucket("datasets").Object("nope.csv").Attrs(ctx); !errors.Is(err, storage.ErrObjectNotExist) {
		t.Errorf("Attrs of a missing object: %v, want ErrObjectNotExist", err)
	}

	// Code that calls storage.NewClient with no options, as the functions
	// do, reaches the fake through STORAGE_EMULATOR_HOST.
	t.Setenv(EnvStorageHost, st.Host)
	envClient, err := storage.NewClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer envClient.Close()
	r, err := envClient.Bucket("datasets").Object("iris.csv").NewReader(ctx)
	if err != nil {
		t.Fatalf("NewReader through %s: %v", EnvStorageHost, err)
	}
	defer r.Close()
	if got, _ := io.ReadAll(r); string(got) != "again" {
		t.Errorf("read %q through %s, want the latest generation", got, EnvStorageHost)
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond()
}
