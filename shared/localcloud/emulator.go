// Package localcloud runs the local stand-ins of the Google Cloud services the
// pipeline uses: the official Firestore and Pub/Sub emulators (Java processes),
// an in-process fake Cloud Storage, the Pub/Sub topology the functions are
// wired with, and a bridge that turns Cloud Storage upload notifications into
// the CloudEvents Eventarc would deliver. `promptml local` composes these
// pieces, and the emulator integration tests of other packages use RunTests.
//
// Everything listens on 127.0.0.1 only: nothing here may reach a real Google
// endpoint or the metadata server.
package localcloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Default install locations of the emulators, as the google-cloud-cli-*
// Debian packages lay them out.
const (
	DefaultFirestoreJar   = "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
	DefaultPubSubLauncher = "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator"
)

const (
	firestoreMainClass = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"
	envFirestoreJar    = "PROMPTML_FIRESTORE_EMULATOR_JAR"
	envPubSubLauncher  = "PROMPTML_PUBSUB_EMULATOR"

	installHint     = "install them with `apt-get install google-cloud-cli-firestore-emulator google-cloud-cli-pubsub-emulator openjdk-17-jre-headless` (Debian/Ubuntu with Google's Cloud SDK apt repository)"
	installPathHint = "they must be at " + DefaultFirestoreJar + " and " + DefaultPubSubLauncher + ", or named by $" + envFirestoreJar + " / $" + envPubSubLauncher

	emulatorLoopbackAddress = "127.0.0.1"
	readyTimeout            = 60 * time.Second
	readyPollInterval       = 100 * time.Millisecond
	readyProbeTimeout       = 2 * time.Second
	stopGrace               = 5 * time.Second
	maxPortAttempts         = 3
	outputTailBytes         = 4 << 10
)

// EmulatorOptions configures one emulator process.
type EmulatorOptions struct {
	// Port to listen on, on 127.0.0.1; 0 picks a free one.
	Port int
	// Log receives the emulator's stdout and stderr; nil discards them (the
	// tail is still kept for error messages).
	Log io.Writer
	// JavaPath is the java binary; default $JAVA_HOME/bin/java, else java
	// from $PATH.
	JavaPath string
	// JarPath is the Firestore emulator jar; default $PROMPTML_FIRESTORE_EMULATOR_JAR,
	// else DefaultFirestoreJar. Ignored by StartPubSub.
	JarPath string
	// LauncherPath is the Pub/Sub emulator launcher script; default
	// $PROMPTML_PUBSUB_EMULATOR, else DefaultPubSubLauncher. Ignored by
	// StartFirestore.
	LauncherPath string
	// ExtraArgs are appended to the emulator's command line, e.g.
	// "--database-mode=datastore-mode" for Firestore.
	ExtraArgs []string
}

// Emulator is a running emulator process started by this package.
type Emulator struct {
	// Name is "firestore" or "pubsub", for messages.
	Name string
	// Host is "127.0.0.1:port", the value of FIRESTORE_EMULATOR_HOST or
	// PUBSUB_EMULATOR_HOST that points a client library at it.
	Host string

	cmd      *exec.Cmd
	tail     *tailBuffer
	exited   chan struct{} // closed when the process has been reaped
	waitErr  error         // set before exited is closed
	stopOnce sync.Once
	stopErr  error
}

// StartFirestore starts the Firestore emulator (native mode unless ExtraArgs
// say otherwise) and waits until it answers.
func StartFirestore(ctx context.Context, opts EmulatorOptions) (*Emulator, error) {
	java, err := lookJava(opts.JavaPath)
	if err != nil {
		return nil, err
	}
	jar := firstNonEmpty(opts.JarPath, os.Getenv(envFirestoreJar), DefaultFirestoreJar)
	if err := checkFile(jar, "Firestore emulator jar"); err != nil {
		return nil, err
	}
	return startWithPort(ctx, "firestore", opts, func(port int) *exec.Cmd {
		args := []string{
			// The emulator only supports English error messages.
			"-Duser.language=en",
			"-cp", jar, firestoreMainClass, "start",
			"--host=" + emulatorLoopbackAddress,
			"--port=" + strconv.Itoa(port),
		}
		return exec.Command(java, append(args, opts.ExtraArgs...)...)
	})
}

// StartPubSub starts the Pub/Sub emulator and waits until it answers.
func StartPubSub(ctx context.Context, opts EmulatorOptions) (*Emulator, error) {
	java, err := lookJava(opts.JavaPath)
	if err != nil {
		return nil, err
	}
	launcher := firstNonEmpty(opts.LauncherPath, os.Getenv(envPubSubLauncher), DefaultPubSubLauncher)
	if err := checkFile(launcher, "Pub/Sub emulator launcher"); err != nil {
		return nil, err
	}
	return startWithPort(ctx, "pubsub", opts, func(port int) *exec.Cmd {
		args := []string{
			"--host=" + emulatorLoopbackAddress,
			"--port=" + strconv.Itoa(port),
		}
		cmd := exec.Command(launcher, append(args, opts.ExtraArgs...)...)
		// The launcher uses $JAVA_HOME/bin/java, else java from $PATH: put the
		// chosen java first on PATH so both agree with lookJava.
		env := make([]string, 0, len(os.Environ())+1)
		for _, kv := range os.Environ() {
			if strings.HasPrefix(kv, "JAVA_HOME=") || strings.HasPrefix(kv, "PATH=") {
				continue
			}
			env = append(env, kv)
		}
		cmd.Env = append(env, "PATH="+filepath.Dir(java)+string(os.PathListSeparator)+os.Getenv("PATH"))
		return cmd
	})
}

// startWithPort starts the process built by mkCmd and waits for readiness.
// With Port 0 a free port is picked; if another process grabs it between the
// probe and the emulator's bind, the emulator exits and another port is tried.
func startWithPort(ctx context.Context, name string, opts EmulatorOptions, mkCmd func(port int) *exec.Cmd) (*Emulator, error) {
	attempts := 1
	if opts.Port == 0 {
		attempts = maxPortAttempts
	}
	var lastErr error
	for range attempts {
		port := opts.Port
		if port == 0 {
			p, err := FreePort()
			if err != nil {
				return nil, err
			}
			port = p
		}
		e, err := start(ctx, name, port, opts.Log, mkCmd(port))
		if err == nil {
			return e, nil
		}
		lastErr = err
		if !errors.Is(err, errExitedEarly) || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

var errExitedEarly = errors.New("emulator exited before it was ready")

func start(ctx context.Context, name string, port int, log io.Writer, cmd *exec.Cmd) (*Emulator, error) {
	e := &Emulator{
		Name:   name,
		Host:   net.JoinHostPort(emulatorLoopbackAddress, strconv.Itoa(port)),
		cmd:    cmd,
		tail:   &tailBuffer{max: outputTailBytes},
		exited: make(chan struct{}),
	}
	var out io.Writer = e.tail
	if log != nil {
		out = io.MultiWriter(e.tail, log)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Stdin = nil
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s emulator %q: %w", name, cmd.Path, err)
	}
	go func() {
		e.waitErr = cmd.Wait()
		close(e.exited)
	}()
	if err := e.waitReady(ctx); err != nil {
		_ = e.Stop()
		return nil, err
	}
	return e, nil
}

// waitReady polls GET / until the emulator answers "Ok", the process exits,
// ctx ends or readyTimeout passes.
func (e *Emulator) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(readyPollInterval)
	defer tick.Stop()
	for {
		if err := CheckEmulator(ctx, e.Host); err == nil {
			return nil
		}
		select {
		case <-e.exited:
			return fmt.Errorf("%s emulator on %s: %w (%v); output:\n%s", e.Name, e.Host, errExitedEarly, e.waitErr, e.tail.String())
		case <-ctx.Done():
			return fmt.Errorf("%s emulator on %s did not answer Ok on GET / within %s: %w; output:\n%s", e.Name, e.Host, readyTimeout, ctx.Err(), e.tail.String())
		case <-tick.C:
		}
	}
}

// Stop kills the emulator's whole process group (whatever the launcher or JVM forked goes too)
// and waits for it to exit. It is safe to call more than once.
func (e *Emulator) Stop() error {
	if e == nil {
		return nil
	}
	e.stopOnce.Do(func() {
		select {
		case <-e.exited:
		default:
			if err := signalGroup(e.cmd, false); err != nil {
				e.stopErr = fmt.Errorf("stop %s emulator: %w", e.Name, err)
			}
			select {
			case <-e.exited:
			case <-time.After(stopGrace):
				if err := signalGroup(e.cmd, true); err != nil {
					e.stopErr = fmt.Errorf("kill %s emulator: %w", e.Name, err)
				}
				<-e.exited
			}
		}
		// Children that outlive the group leader (java forked by a launcher)
		// keep the group, and its id, alive: make sure they are gone too. If
		// none is left the signal finds no process, which is fine.
		_ = signalGroup(e.cmd, true)
	})
	return e.stopErr
}

// Output returns the tail of the emulator's output, for diagnostics.
func (e *Emulator) Output() string { return e.tail.String() }

// CheckEmulator returns nil if an emulator on host ("127.0.0.1:8085")
// answers "Ok" on GET /, as both the Firestore and Pub/Sub emulators do.
func CheckEmulator(ctx context.Context, host string) error {
	ctx, cancel := context.WithTimeout(ctx, readyProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/", nil)
	if err != nil {
		return fmt.Errorf("probe emulator %s: %w", host, err)
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe emulator %s: %w", host, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "Ok" {
		return fmt.Errorf("probe emulator %s: GET / answered %s %q, want 200 \"Ok\"", host, resp.Status, body)
	}
	return nil
}

// probeClient never uses a proxy: the emulators are on loopback and a
// configured HTTP proxy must not see (or break) the probes.
var probeClient = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(emulatorLoopbackAddress, "0"))
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lookJava resolves the java binary the way the emulator launchers do:
// the explicit path, else $JAVA_HOME/bin/java, else java on $PATH.
func lookJava(javaPath string) (string, error) {
	java := javaPath
	if java == "" {
		java = "java"
		if home := os.Getenv("JAVA_HOME"); home != "" {
			java = filepath.Join(home, "bin", "java")
		}
	}
	p, err := exec.LookPath(java)
	if err != nil {
		return "", fmt.Errorf("java runtime %q not found (%w): the emulators need Java 11+; %s; %s", java, err, installHint, installPathHint)
	}
	return p, nil
}

func checkFile(path, what string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%s not found: %w; %s; %s", what, err, installHint, installPathHint)
	}
	return nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// tailBuffer keeps the last max bytes written to it, so a failed start can
// show what the emulator said without buffering hours of logs.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
