//go:build unix

package localcloud

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStartStopKillsProcessGroup(t *testing.T) {
	opts := fakeLauncher(t)
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	t.Setenv(envFakeChildPID, pidFile)
	var log strings.Builder
	opts.Log = &log // written only until Stop returns

	e, err := StartPubSub(t.Context(), opts)
	if err != nil {
		t.Fatalf("StartPubSub: %v", err)
	}
	if err := CheckEmulator(t.Context(), e.Host); err != nil {
		t.Fatalf("after start: %v", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatal(err)
	}

	if err := e.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := e.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := CheckEmulator(t.Context(), e.Host); err == nil {
		t.Error("emulator still answers after Stop")
	}
	// The child ignores SIGTERM and is not the process we started: only a
	// group kill ends it. Once killed, init reaps it.
	if !waitFor(5*time.Second, func() bool { return errors.Is(syscall.Kill(child, 0), syscall.ESRCH) }) {
		t.Errorf("child %d of the launcher survived Stop", child)
		syscall.Kill(child, syscall.SIGKILL)
	}
	const want = "fake emulator starting --host=127.0.0.1 --port="
	if !strings.Contains(e.Output(), want) || !strings.Contains(log.String(), want) {
		t.Errorf("output tail %q / log %q lack the launcher's output", e.Output(), log.String())
	}
}
