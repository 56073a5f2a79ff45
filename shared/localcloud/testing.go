package localcloud

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// EnvMetadataHost is where the Google auth libraries look for the GCE
// metadata server. Tests point it at a closed loopback port so nothing can
// probe the real one.
const EnvMetadataHost = "GCE_METADATA_HOST"

const deadMetadataHost = "127.0.0.1:1"

// RunTests is the body of a TestMain for tests that use the emulators:
//
//	func TestMain(m *testing.M) { os.Exit(localcloud.RunTests(m)) }
//
// Unless -short is given it ensures the Firestore and Pub/Sub emulators
// (reusing ones named by FIRESTORE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST,
// else starting them), exports their hosts in the environment, runs the
// tests and stops what it started. GCE_METADATA_HOST is always set to a dead
// loopback port. Tests isolate from each other with ProjectID.
func RunTests(m *testing.M) int {
	// testing.Short needs parsed flags, and TestMain runs before m.Run
	// parses them.
	if !flag.Parsed() {
		flag.Parse()
	}
	if err := os.Setenv(EnvMetadataHost, deadMetadataHost); err != nil {
		fmt.Fprintf(os.Stderr, "localcloud: setenv %s: %v\n", EnvMetadataHost, err)
		return 1
	}
	if testing.Short() {
		return m.Run()
	}
	// Two JVMs starting on a loaded machine can take a while; readiness
	// itself is bounded per emulator.
	ctx, cancel := context.WithTimeout(context.Background(), 2*readyTimeout)
	es, err := Ensure(ctx, EnsureOptions{})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "localcloud: emulators unavailable (use -short to run only unit tests): %v\n", err)
		return 1
	}
	defer func() {
		if err := es.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "localcloud: %v\n", err)
		}
	}()
	if err := es.Setenv(); err != nil {
		fmt.Fprintf(os.Stderr, "localcloud: %v\n", err)
		return 1
	}
	return m.Run()
}

// RequireEmulators skips t under -short and fails it if the emulators are
// not configured (the package's TestMain does not call RunTests).
func RequireEmulators(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the Firestore and Pub/Sub emulators; skipped with -short")
	}
	if os.Getenv(EnvFirestoreHost) == "" || os.Getenv(EnvPubSubHost) == "" {
		t.Fatalf("%s / %s not set: call localcloud.RunTests from TestMain", EnvFirestoreHost, EnvPubSubHost)
	}
}

var (
	projectSeq  atomic.Uint32
	projectSeed = func() uint32 {
		var b [4]byte
		_, _ = rand.Read(b[:])
		return binary.LittleEndian.Uint32(b[:])
	}()
)

// ProjectID returns a project id unique to this call, derived from the
// test's name: both emulators keep one namespace per project, so a fresh
// project gives a test its own empty database and topics even on shared,
// long-running emulators. The id is valid for Google Cloud: 6–30 characters,
// lowercase letters, digits and hyphens, starting with a letter.
func ProjectID(t testing.TB) string {
	t.Helper()
	return projectID(t.Name(), projectSeed+projectSeq.Add(1))
}

func projectID(name string, n uint32) string {
	const maxSlug = 30 - len("t--") - 8
	var b strings.Builder
	dash := true // no leading dash, no runs of dashes
	for _, r := range strings.ToLower(name) {
		if b.Len() >= maxSlug {
			break
		}
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	slug := strings.Trim(b.String(), "-")
	if slug == "" {
		return fmt.Sprintf("t-%08x", n)
	}
	return fmt.Sprintf("t-%s-%08x", slug, n)
}
