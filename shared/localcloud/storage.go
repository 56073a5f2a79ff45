package localcloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"
)

// EnvStorageHost is how the Cloud Storage client library finds an emulator;
// set it to Storage.Host to point unmodified code at the fake.
const EnvStorageHost = "STORAGE_EMULATOR_HOST"

// StorageOptions configures the in-process fake Cloud Storage.
type StorageOptions struct {
	// Port on 127.0.0.1; 0 picks a free one.
	Port int
	// Project is the project of the notification topic.
	Project string
	// Buckets are created empty at start.
	Buckets []string
	// NotifyBucket is the bucket (the datasets bucket) whose OBJECT_FINALIZE
	// events are published to NotifyTopic, as a Cloud Storage Pub/Sub
	// notification would; empty disables notifications.
	NotifyBucket string
	// NotifyTopic is the topic id on the Pub/Sub emulator; it is created if
	// missing.
	NotifyTopic string
	// PubSubHost is the Pub/Sub emulator ("127.0.0.1:8085"); default
	// $PUBSUB_EMULATOR_HOST. Needed only with NotifyBucket.
	PubSubHost string
}

// Storage is a running fake Cloud Storage (fake-gcs-server) serving the JSON
// API over plain HTTP on 127.0.0.1.
type Storage struct {
	// URL is the server's base URL, "http://127.0.0.1:port".
	URL string
	// Host is "127.0.0.1:port", the value for STORAGE_EMULATOR_HOST.
	Host string

	server   *fakestorage.Server
	stopOnce sync.Once
}

// envMu serializes the PUBSUB_EMULATOR_HOST swap in StartStorage.
var envMu sync.Mutex

// StartStorage starts fake-gcs-server with the given buckets. With
// NotifyBucket set, finalized objects in it are published to NotifyTopic on
// the Pub/Sub emulator in the JSON_API_V1 notification format.
func StartStorage(ctx context.Context, opts StorageOptions) (*Storage, error) {
	if opts.Port != 0 {
		return startStorage(ctx, opts)
	}
	// A free port can be taken by another process between FreePort and
	// the server's bind: try another one.
	var err error
	for range 5 {
		var s *Storage
		if s, err = startStorage(ctx, opts); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
			return s, err
		}
	}
	return nil, err
}

func startStorage(ctx context.Context, opts StorageOptions) (*Storage, error) {
	port := opts.Port
	if port == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("start storage: port %d out of range", port)
	}
	fsOpts := fakestorage.Options{
		Scheme:     "http",
		Host:       emulatorLoopbackAddress,
		Port:       uint16(port),
		PublicHost: net.JoinHostPort(emulatorLoopbackAddress, strconv.Itoa(port)),
	}
	if opts.NotifyBucket != "" {
		if opts.Project == "" || opts.NotifyTopic == "" {
			return nil, errors.New("start storage: NotifyBucket needs Project and NotifyTopic")
		}
		if !slices.Contains(opts.Buckets, opts.NotifyBucket) {
			opts.Buckets = append(slices.Clone(opts.Buckets), opts.NotifyBucket)
		}
		host := firstNonEmpty(opts.PubSubHost, os.Getenv(EnvPubSubHost))
		if host == "" {
			return nil, fmt.Errorf("start storage: notifications need the Pub/Sub emulator: set StorageOptions.PubSubHost or $%s", EnvPubSubHost)
		}
		if err := ensureTopic(ctx, host, opts.Project, opts.NotifyTopic); err != nil {
			return nil, fmt.Errorf("start storage: %w", err)
		}
		fsOpts.EventOptions = fakestorage.EventManagerOptions{
			ProjectID: opts.Project,
			TopicName: opts.NotifyTopic,
			Bucket:    opts.NotifyBucket,
			NotifyOn:  fakestorage.EventNotificationOptions{Finalize: true},
		}
		// fake-gcs-server creates its publisher with pubsub.NewClient and no
		// options, which finds the emulator only through PUBSUB_EMULATOR_HOST,
		// read once while the client is created: point it at host for that
		// moment. Without the emulator it would publish to Google.
		envMu.Lock()
		restore := swapEnv(EnvPubSubHost, host)
		server, err := fakestorage.NewServerWithOptions(fsOpts)
		restore()
		envMu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("start storage: fakestorage.NewServerWithOptions: %w", err)
		}
		return newStorage(server, opts.Buckets), nil
	}
	server, err := fakestorage.NewServerWithOptions(fsOpts)
	if err != nil {
		return nil, fmt.Errorf("start storage: fakestorage.NewServerWithOptions: %w", err)
	}
	return newStorage(server, opts.Buckets), nil
}

func newStorage(server *fakestorage.Server, buckets []string) *Storage {
	for _, b := range buckets {
		server.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	u := server.URL()
	host := u
	if pu, err := url.Parse(u); err == nil {
		host = pu.Host
	}
	slog.Debug("localcloud: fake storage started", "url", u, "buckets", buckets)
	return &Storage{URL: u, Host: host, server: server}
}

// swapEnv sets k=v and returns a func restoring the previous state.
func swapEnv(k, v string) (restore func()) {
	old, had := os.LookupEnv(k)
	_ = os.Setenv(k, v)
	return func() {
		if had {
			_ = os.Setenv(k, old)
		} else {
			_ = os.Unsetenv(k)
		}
	}
}

// Client returns a real Cloud Storage client talking to the fake over plain
// HTTP, without credentials. Close it when done.
func (s *Storage) Client(ctx context.Context) (*storage.Client, error) {
	c, err := storage.NewClient(ctx,
		option.WithEndpoint(s.URL+"/storage/v1/"),
		option.WithoutAuthentication(),
	)
	if err != nil {
		return nil, fmt.Errorf("storage.NewClient(%s): %w", s.URL, err)
	}
	return c, nil
}

// Stop shuts the server down. It is safe to call more than once.
func (s *Storage) Stop() {
	if s == nil {
		return
	}
	s.stopOnce.Do(s.server.Stop)
}
