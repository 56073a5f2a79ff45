//go:build linux

package localcloud

import "syscall"

// setParentDeathSignal makes the kernel kill the emulator if this process
// dies without calling Stop (a test binary killed by -timeout), so no java
// process is left holding a port and a gigabyte of memory.
func setParentDeathSignal(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGKILL
}
