package blob

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		uri          string
		bucket, name string
		wantErr      bool
	}{
		{uri: "gs://datasets/data.csv", bucket: "datasets", name: "data.csv"},
		{uri: "gs://datasets/a/b/c.csv", bucket: "datasets", name: "a/b/c.csv"},
		{uri: "gs://b/a..b/c.d.csv", bucket: "b", name: "a..b/c.d.csv"},
		{uri: "gs://b/.hidden/x", bucket: "b", name: ".hidden/x"},
		{uri: "gs://b/dir/", bucket: "b", name: "dir/"},
		{uri: "datasets/data.csv", wantErr: true},
		{uri: "s3://datasets/data.csv", wantErr: true},
		{uri: "GS://datasets/data.csv", wantErr: true},
		{uri: "", wantErr: true},
		{uri: "gs://", wantErr: true},
		{uri: "gs://datasets", wantErr: true},
		{uri: "gs://datasets/", wantErr: true},
		{uri: "gs:///data.csv", wantErr: true},
		{uri: "gs://datasets/../artifacts/x.csv", wantErr: true},
		{uri: "gs://datasets/a/../b.csv", wantErr: true},
		{uri: "gs://datasets/a/..", wantErr: true},
		{uri: "gs://datasets/..", wantErr: true},
		{uri: "gs://datasets/./a.csv", wantErr: true},
		{uri: "gs://datasets/a/./b.csv", wantErr: true},
		{uri: "gs://datasets/.", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			bucket, name, err := ParseURI(tt.uri)
			if tt.wantErr {
				if err == nil {
					t.Errorf("ParseURI(%q) = %q, %q, nil; want an error", tt.uri, bucket, name)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURI(%q) = %v", tt.uri, err)
			}
			if bucket != tt.bucket || name != tt.name {
				t.Errorf("ParseURI(%q) = %q, %q; want %q, %q", tt.uri, bucket, name, tt.bucket, tt.name)
			}
		})
	}
}

func TestPaths(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"DataPath", DataPath("r1", "train", 3), "runs/r1/data/train/3.jsonl"},
		{"DataPath batch 0", DataPath("r1", "val", 0), "runs/r1/data/val/0.jsonl"},
		{"ResultPath", ResultPath("r1", "val-p0123", 12, "a1b2c3"), "runs/r1/results/val-p0123/12.a1b2c3.jsonl"},
		{"ExportPath", ExportPath("r1", "prompt.json"), "runs/r1/export/prompt.json"},
		{"ExportPath system", ExportPath("r1", "system.txt"), "runs/r1/export/system.txt"},
		{"SidecarName", SidecarName("data.csv"), "data.yaml"},
		{"SidecarName nested", SidecarName("a/b/data.csv"), "a/b/data.yaml"},
		{"SidecarName upper case", SidecarName("DATA.CSV"), "DATA.yaml"},
		{"SidecarName dots", SidecarName("v1.2/data.v2.csv"), "v1.2/data.v2.yaml"},
		{"SidecarName no extension", SidecarName("data"), "data.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func newStore(t *testing.T, versioned bool) *Store {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "b", VersioningEnabled: versioned})
	return New(srv.Client())
}

func TestWriteReadAll(t *testing.T) {
	s := newStore(t, false)
	ctx := t.Context()
	data := []byte("line 1\nline 2\n")
	if err := s.Write(ctx, "b", "runs/r/x.jsonl", "application/x-ndjson", data); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		limit   int64
		wantErr bool
	}{
		{"no limit", 0, false},
		{"limit equals size", int64(len(data)), false},
		{"limit above size", 1 << 20, false},
		{"limit exceeded", int64(len(data)) - 1, true},
		{"limit 1", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ReadAll(ctx, "b", "runs/r/x.jsonl", tt.limit)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "larger than") {
					t.Errorf("ReadAll(limit %d) = %q, %v; want a size error", tt.limit, got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(data) {
				t.Errorf("ReadAll = %q, want %q", got, data)
			}
		})
	}
	a, err := s.Stat(ctx, "b", "runs/r/x.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if a.Bucket != "b" || a.Name != "runs/r/x.jsonl" || a.Size != int64(len(data)) || a.Generation == 0 || a.ContentType != "application/x-ndjson" {
		t.Errorf("Stat = %+v", a)
	}
	// Write replaces.
	if err := s.Write(ctx, "b", "runs/r/x.jsonl", "text/plain", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ReadAll(ctx, "b", "runs/r/x.jsonl", 0); err != nil || string(got) != "new" {
		t.Errorf("ReadAll after replace = %q, %v", got, err)
	}
	// An empty object is fine.
	if err := s.Write(ctx, "b", "empty", "text/plain", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ReadAll(ctx, "b", "empty", 10); err != nil || len(got) != 0 {
		t.Errorf("ReadAll(empty) = %q, %v", got, err)
	}
}

func TestWriterStreams(t *testing.T) {
	s := newStore(t, false)
	ctx := t.Context()
	w := s.Writer(ctx, "b", "stream.txt", "text/plain")
	for _, p := range []string{"a", "b", "c"} {
		if _, err := io.WriteString(w, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ReadAll(ctx, "b", "stream.txt", 0); err != nil || string(got) != "abc" {
		t.Errorf("ReadAll = %q, %v; want abc", got, err)
	}
	// Closing a writer to a missing bucket fails with the object's name.
	w = s.Writer(ctx, "nobucket", "x.txt", "text/plain")
	_, _ = io.WriteString(w, "x")
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "gs://nobucket/x.txt") {
		t.Errorf("Close to a missing bucket = %v, want an error naming gs://nobucket/x.txt", err)
	}
}

func TestMissingObject(t *testing.T) {
	s := newStore(t, false)
	ctx := t.Context()
	if _, err := s.Stat(ctx, "b", "missing.csv"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Stat(missing) = %v, want ErrNotExist", err)
	}
	if _, err := s.Open(ctx, "b", "missing.csv", 0); !errors.Is(err, ErrNotExist) {
		t.Errorf("Open(missing) = %v, want ErrNotExist", err)
	}
	if _, err := s.ReadAll(ctx, "b", "missing.csv", 0); !errors.Is(err, ErrNotExist) {
		t.Errorf("ReadAll(missing) = %v, want ErrNotExist", err)
	}
	_, err := Object{Store: s, Bucket: "b", Name: "missing.csv", Generation: 5}.Open(ctx)
	if !errors.Is(err, ErrNotExist) {
		t.Errorf("Object.Open(missing) = %v, want ErrNotExist", err)
	}
	if err != nil && !strings.Contains(err.Error(), "gs://b/missing.csv") {
		t.Errorf("error %q does not name the object", err)
	}
}

func readAll(t *testing.T, rc io.ReadCloser) string {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpenAtGeneration(t *testing.T) {
	ctx := t.Context()
	t.Run("versioned bucket keeps the old generation", func(t *testing.T) {
		s := newStore(t, true)
		if err := s.Write(ctx, "b", "d.csv", "text/csv", []byte("first")); err != nil {
			t.Fatal(err)
		}
		a1, err := s.Stat(ctx, "b", "d.csv")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, "b", "d.csv", "text/csv", []byte("second")); err != nil {
			t.Fatal(err)
		}
		a2, err := s.Stat(ctx, "b", "d.csv")
		if err != nil {
			t.Fatal(err)
		}
		if a2.Generation == a1.Generation {
			t.Fatalf("rewrite kept generation %d", a1.Generation)
		}
		rc, err := s.Open(ctx, "b", "d.csv", a1.Generation)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, rc); got != "first" {
			t.Errorf("Open(generation %d) = %q, want first", a1.Generation, got)
		}
		o := Object{Store: s, Bucket: "b", Name: "d.csv", Generation: a2.Generation}
		rc, err = o.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, rc); got != "second" {
			t.Errorf("Object.Open(generation %d) = %q, want second", a2.Generation, got)
		}
		if o.URI() != "gs://b/d.csv" {
			t.Errorf("URI = %q", o.URI())
		}
		rc, err = s.Open(ctx, "b", "d.csv", 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, rc); got != "second" {
			t.Errorf("Open(live) = %q, want second", got)
		}
	})
	t.Run("replaced generation no longer exists", func(t *testing.T) {
		s := newStore(t, false)
		if err := s.Write(ctx, "b", "d.csv", "text/csv", []byte("first")); err != nil {
			t.Fatal(err)
		}
		a1, err := s.Stat(ctx, "b", "d.csv")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, "b", "d.csv", "text/csv", []byte("second")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(ctx, "b", "d.csv", a1.Generation); !errors.Is(err, ErrNotExist) {
			t.Errorf("Open(replaced generation) = %v, want ErrNotExist", err)
		}
	})
}
