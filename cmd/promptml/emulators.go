package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/promptml/promptml/shared/localcloud"
)

func newEmulatorsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "emulators -- COMMAND [ARGS...]",
		Short: "Run a command with the Firestore and Pub/Sub emulators up (started here unless already running)",
		Long: `Ensure the Firestore and Pub/Sub emulators (reusing those named by
FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST), run COMMAND with those
variables set, then stop the emulators this command started. make test uses
it so that every test package shares one pair of emulators.`,
		Example: "  promptml emulators -- go test ./...",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			_ = os.Setenv("GCE_METADATA_HOST", "127.0.0.1:1")
			es, err := localcloud.Ensure(ctx, localcloud.EnsureOptions{})
			if err != nil {
				return err
			}
			defer es.Stop()
			if err := es.Setenv(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "emulators: FIRESTORE_EMULATOR_HOST=%s PUBSUB_EMULATOR_HOST=%s\n", es.FirestoreHost, es.PubSubHost)
			c := exec.CommandContext(ctx, args[0], args[1:]...)
			c.Stdin, c.Stdout, c.Stderr = os.Stdin, cmd.OutOrStdout(), cmd.ErrOrStderr()
			c.Cancel = func() error { return c.Process.Signal(os.Interrupt) }
			err = c.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return &exitError{ee.ExitCode(), fmt.Errorf("%s exited with %d", args[0], ee.ExitCode())}
			}
			return err
		},
	}
}
