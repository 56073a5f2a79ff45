package localcloud

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a fake emulator launcher, so the process
// handling of StartPubSub can be tested without Java: see fakeEmulatorMain.
const (
	envFakeEmulator = "LOCALCLOUD_TEST_FAKE_EMULATOR" // "server" or "child"
	envFakeChildPID = "LOCALCLOUD_TEST_FAKE_CHILD_PID_FILE"
	envFakeFail     = "LOCALCLOUD_TEST_FAKE_FAIL"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(envFakeEmulator); mode != "" {
		fakeEmulatorMain(mode)
		return
	}
	os.Exit(RunTests(m))
}

// fakeEmulatorMain behaves like an emulator launcher: it forks a child that
// outlives nothing but its process group, then serves "Ok" on --port.
func fakeEmulatorMain(mode string) {
	if mode == "child" {
		// Ignore SIGTERM like a stubborn JVM would; only SIGKILL ends it.
		signal.Ignore(syscall.SIGTERM)
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	fmt.Println("fake emulator starting", strings.Join(os.Args[1:], " "))
	if msg := os.Getenv(envFakeFail); msg != "" {
		fmt.Fprintln(os.Stderr, msg)
		os.Exit(3)
	}
	var port string
	for _, a := range os.Args[1:] {
		if p, ok := strings.CutPrefix(a, "--port="); ok {
			port = p
		}
	}
	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), envFakeEmulator+"=child")
	if err := child.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	if f := os.Getenv(envFakeChildPID); f != "" {
		_ = os.WriteFile(f, fmt.Appendf(nil, "%d", child.Process.Pid), 0o600)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(5)
	}
	_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "Ok")
	}))
}
