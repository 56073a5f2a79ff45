//go:build !unix

package localcloud

import "os/exec"

// setProcessGroup is a no-op without Unix process groups.
func setProcessGroup(*exec.Cmd) {}

// signalGroup kills the emulator process itself: without process groups a
// forked java child may survive, so prefer a Unix host for the local cloud.
func signalGroup(cmd *exec.Cmd, _ bool) error {
	if cmd.Process == nil {
		return nil
	}
	return cmd.Process.Kill()
}
