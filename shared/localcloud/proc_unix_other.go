//go:build unix && !linux

package localcloud

import "syscall"

// setParentDeathSignal is a no-op where the kernel has no parent-death
// signal: call Stop.
func setParentDeathSignal(*syscall.SysProcAttr) {}
