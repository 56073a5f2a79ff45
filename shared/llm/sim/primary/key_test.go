package primary

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/google/go-cmp/cmp"
)

func TestParseCSV(t *testing.T) {
	tests := []struct {
		name    string
		csv     string
		want    map[string]string
		wantErr error
	}{
		{"plain", "user_input,ground_truth_output\na,b\nc,d\n", map[string]string{"a": "b", "c": "d"}, nil},
		{"bom, other columns, reordered", "\ufeffid,Ground_Truth_Output,notes,User_Input\n1,b,x,a\n", map[string]string{"a": "b"}, nil},
		{"quoted newlines and commas", "user_input,ground_truth_output\r\n\"Translate:\r\nline 1, line 2\",\"out, \"\"x\"\"\"\r\n",
			map[string]string{"Translate:\nline 1, line 2": `out, "x"`}, nil},
		{"lazy quotes", "user_input,ground_truth_output\nsay \"hi\" now,ok\n", map[string]string{`say "hi" now`: "ok"}, nil},
		{"first duplicate wins, short rows skipped", "user_input,ground_truth_output\na,1\na,2\nshort\n", map[string]string{"a": "1"}, nil},
		{"missing column", "input,output\na,b\n", nil, ErrNoColumns},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCSV(strings.NewReader(tt.csv))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("pairs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKeyLookup(t *testing.T) {
	k := NewKey(map[string]string{
		"Hello":                   "short",
		"Hello world":             "long",
		"Line one\r\nLine two":    "multi",
		"  padded input  ":        "padded",
		"Translate to French: Hi": "Salut",
	})
	tests := []struct {
		name      string
		prompt    string
		wantInput string
		wantTruth string
		wantOK    bool
	}{
		{"exact", "Hello", "Hello", "short", true},
		{"longest prefix wins", "Hello world\n\nAnswer the request.", "Hello world", "long", true},
		{"shorter prefix at a boundary", "Hello there\n\nAnswer.", "Hello", "short", true},
		{"no match inside a word", "Helloworld", "", "", false},
		{"multi-line input, LF prompt", "Line one\nLine two\n\nOutput only the answer.", "Line one\nLine two", "multi", true},
		{"trimmed both sides", "\n padded input\n\n", "padded input", "padded", true},
		{"output prompt quoting another input", "Translate to French: Hi\n\nLike Hello world", "Translate to French: Hi", "Salut", true},
		{"unknown", "Goodbye", "", "", false},
		{"empty", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, truth, ok, err := k.Lookup(context.Background(), tt.prompt)
			if err != nil {
				t.Fatal(err)
			}
			if in != tt.wantInput || truth != tt.wantTruth || ok != tt.wantOK {
				t.Errorf("Lookup(%q) = %q, %q, %v; want %q, %q, %v", tt.prompt, in, truth, ok, tt.wantInput, tt.wantTruth, tt.wantOK)
			}
		})
	}
}

func newFakeGCS(t *testing.T, objs ...fakestorage.Object) *fakestorage.Server {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true, InitialObjects: objs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "datasets"})
	return srv
}

func object(name, content string) fakestorage.Object {
	return fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "datasets", Name: name}, Content: []byte(content)}
}

func TestLoadBucket(t *testing.T) {
	srv := newFakeGCS(t,
		object("b-sentiment.csv", "user_input,ground_truth_output\nReview: great,positive\nReview: bad,negative\nshared,from b\n"),
		object("a-translate.csv", "\ufeffuser_input,ground_truth_output\n\"Translate to French:\nHello\",Bonjour\nshared,from a\n"),
		object("a-translate.yaml", "epochs: 3\n"),
		object("notes.csv", "title,body\nx,y\n"),
		object("nested/c.CSV", "user_input,ground_truth_output\ndeep,ok\n"),
	)
	k, err := LoadBucket(context.Background(), srv.Client(), "datasets")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ prompt, want string }{
		{"Translate to French:\nHello\n\nAnswer.", "Bonjour"},
		{"Review: great", "positive"},
		{"shared", "from a"}, // object-name order: a-translate.csv first
		{"deep", "ok"},
	}
	for _, tt := range tests {
		if _, got, ok, _ := k.Lookup(context.Background(), tt.prompt); !ok || got != tt.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", tt.prompt, got, ok, tt.want)
		}
	}
	if k.Len() != 5 { // "shared" from b-sentiment.csv is a duplicate
		t.Errorf("Len = %d, want 5", k.Len())
	}
	if diff := cmp.Diff([]string{"negative", "positive"}, k.Alternatives("Review: bad")); diff != "" {
		t.Errorf("Alternatives (-want +got):\n%s", diff)
	}
	if _, err := LoadBucket(context.Background(), srv.Client(), "missing"); err == nil {
		t.Error("LoadBucket of a missing bucket: want an error")
	}
}

func TestBucketKeyRefresh(t *testing.T) {
	srv := newFakeGCS(t, object("first.csv", "user_input,ground_truth_output\nold,1\n"))
	bk := NewBucketKey(srv.Client(), "datasets", time.Minute)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bk.now = func() time.Time { return now }
	ctx := context.Background()

	lookup := func(prompt string) (string, bool) {
		t.Helper()
		_, truth, ok, err := bk.Lookup(ctx, prompt)
		if err != nil {
			t.Fatal(err)
		}
		return truth, ok
	}
	if got, ok := lookup("old"); !ok || got != "1" {
		t.Fatalf("first lookup = %q, %v", got, ok)
	}
	srv.CreateObject(object("second.csv", "user_input,ground_truth_output\nnew,2\n"))
	if _, ok := lookup("new"); ok {
		t.Error("new upload seen before the refresh interval passed")
	}
	now = now.Add(2 * time.Minute)
	if got, ok := lookup("new"); !ok || got != "2" {
		t.Errorf("after the interval: %q, %v; want 2", got, ok)
	}

	// Concurrent lookups (hits and misses) are safe.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				bk.Lookup(ctx, "old")
				bk.Lookup(ctx, "missing")
			}
		}()
	}
	wg.Wait()
}

func TestBucketKeyError(t *testing.T) {
	srv := newFakeGCS(t)
	bk := NewBucketKey(srv.Client(), "no-such-bucket", time.Minute)
	if _, _, _, err := bk.Lookup(context.Background(), "x"); err == nil {
		t.Error("want an error for a missing bucket")
	}
}
