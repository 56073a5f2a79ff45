package localcloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
)

// Environment variables through which the client libraries find the emulators.
const (
	EnvFirestoreHost = "FIRESTORE_EMULATOR_HOST"
	EnvPubSubHost    = "PUBSUB_EMULATOR_HOST"
)

// EnsureOptions configures the emulators Ensure starts when none is running.
type EnsureOptions struct {
	Firestore EmulatorOptions
	PubSub    EmulatorOptions
}

// Emulators are the Firestore and Pub/Sub emulators the local cloud uses,
// either found running or started by Ensure.
type Emulators struct {
	// FirestoreHost and PubSubHost are "host:port" values for
	// FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST.
	FirestoreHost string
	PubSubHost    string

	started []*Emulator
}

// Ensure returns the emulators named by FIRESTORE_EMULATOR_HOST and
// PUBSUB_EMULATOR_HOST if they answer, and starts (concurrently) the ones
// that are not named. A named emulator that does not answer is an error
// rather than silently replaced: the caller asked for that one.
func Ensure(ctx context.Context, opts EnsureOptions) (*Emulators, error) {
	es := &Emulators{}
	type job struct {
		env   string
		host  *string
		start func(context.Context, EmulatorOptions) (*Emulator, error)
		opts  EmulatorOptions
	}
	jobs := []job{
		{EnvFirestoreHost, &es.FirestoreHost, StartFirestore, opts.Firestore},
		{EnvPubSubHost, &es.PubSubHost, StartPubSub, opts.PubSub},
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, j := range jobs {
		if h := os.Getenv(j.env); h != "" {
			if err := CheckEmulator(ctx, h); err != nil {
				errs = append(errs, fmt.Errorf("%s=%s: %w", j.env, h, err))
				continue
			}
			*j.host = h
			slog.Debug("localcloud: using running emulator", "env", j.env, "host", h)
			continue
		}
		wg.Go(func() {
			e, err := j.start(ctx, j.opts)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			*j.host = e.Host
			es.started = append(es.started, e)
			slog.Debug("localcloud: started emulator", "name", e.Name, "host", e.Host)
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		_ = es.Stop()
		return nil, errors.Join(errs...)
	}
	return es, nil
}

// Setenv points the client libraries of this process (and of the
// processes it starts afterwards) at the emulators.
func (es *Emulators) Setenv() error {
	for k, v := range map[string]string{EnvFirestoreHost: es.FirestoreHost, EnvPubSubHost: es.PubSubHost} {
		if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("setenv %s: %w", k, err)
		}
	}
	return nil
}

// Stop stops the emulators Ensure started; ones it found running are left
// alone. It is safe to call more than once.
func (es *Emulators) Stop() error {
	if es == nil {
		return nil
	}
	var errs []error
	for _, e := range es.started {
		errs = append(errs, e.Stop())
	}
	return errors.Join(errs...)
}
