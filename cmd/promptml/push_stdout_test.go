package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/promptml/promptml/shared/localcloud"
)

// syncBuffer collects a child's stdout.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestPushDeliveryLeavesOnlyJSONOnStdout runs RunBatch the way the local
// cloud does (`promptml functions --target RunBatch`, with K_SERVICE set as
// on Cloud Run) and pushes a Pub/Sub delivery to it, as terraform's push
// subscription does, at <function URL>/projects/P/topics/promptml-batches.
// Every line the function prints on stdout must be a JSON log entry (Cloud
// Logging parses stdout line by line). The same delivery to the bare URL,
// the endpoint before issue 16, makes the Functions Framework print a
// WARNING without a newline, which glues onto the next JSON line: the test
// checks that too, so it would notice the regression.
func TestPushDeliveryLeavesOnlyJSONOnStdout(t *testing.T) {
	localcloud.RequireEmulators(t)
	bin := buildBinary(t)
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Stop()
	project := localcloud.ProjectID(t)
	port, err := localcloud.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "functions", "--target", "RunBatch", "--port", strconv.Itoa(port))
	cmd.Env = append(os.Environ(),
		"PROMPTML_PROJECT="+project, "PROMPTML_DATASETS_BUCKET=push-ds", "PROMPTML_ARTIFACTS_BUCKET=push-art",
		"STORAGE_EMULATOR_HOST="+strings.TrimPrefix(gcs.URL(), "http://"),
		"GCE_METADATA_HOST=127.0.0.1:1", "K_SERVICE=promptml-run-batch", "FUNCTION_TARGET=RunBatch")
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Cancel(); _ = cmd.Wait() }()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := waitReady(ctx, base); err != nil {
		t.Fatalf("RunBatch did not start: %v\n%s", err, stderr.String())
	}

	// A batch of a run that does not exist: the function logs a permanent
	// failure (JSON) and acknowledges.
	push := func(t *testing.T, path, id string) {
		t.Helper()
		data, _ := json.Marshal(map[string]any{"v": 1, "run_id": "no-such-run-" + id, "phase_id": "p", "batch": 0})
		env := localcloud.PushEnvelope{Subscription: "projects/" + project + "/subscriptions/promptml-batches-run-batch",
			Message: localcloud.PushMessage{Data: data, MessageID: id, MessageIDAlt: id, PublishTime: time.Now().UTC(), PublishAlt: time.Now().UTC()}}
		body, _ := json.Marshal(env)
		resp, err := http.Post(base+path, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("push to %s: %s %s\nstderr:\n%s", path, resp.Status, b, stderr.String())
		}
		// The function has logged before it answered; give the pipe a moment.
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(stdout.String(), "no-such-run-"+id) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}

	topicPath := "/projects/" + project + "/topics/promptml-batches"
	push(t, topicPath, "1")
	push(t, topicPath, "2")
	out := stdout.String()
	if !strings.Contains(out, "no-such-run-1") || !strings.Contains(out, "no-such-run-2") {
		t.Fatalf("the deliveries left no log line on stdout:\n%s\nstderr:\n%s", out, stderr.String())
	}
	if bad := nonJSONLines(out); len(bad) > 0 {
		t.Errorf("push to the topic path: stdout has %d lines that are not JSON:\n%s", len(bad), strings.Join(bad, "\n"))
	}

	// The bare URL: the WARNING is there, glued to the next line.
	before := len(out)
	push(t, "/", "3")
	push(t, "/", "4")
	after := stdout.String()[before:]
	t.Logf("stdout of RunBatch:\n%s", stdout.String())
	if bad := nonJSONLines(after); len(bad) == 0 || !strings.Contains(strings.Join(bad, "\n"), "WARNING") {
		t.Errorf("push to the bare URL printed only JSON; the check above would not notice the Functions Framework's WARNING:\n%s", after)
	}
}

// nonJSONLines returns the non-empty lines of s that are not one JSON
// object each (empty lines are the framework's flushes; Cloud Logging
// ignores them).
func nonJSONLines(s string) []string {
	var bad []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			bad = append(bad, fmt.Sprintf("%q", line))
		}
	}
	return bad
}
