package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// procInfo is what the sampler reads of one process.
type procInfo struct {
	pid, ppid int
	rssKiB    int64
	cmdline   string
}

// parseStatPPID returns the parent pid from the content of /proc/PID/stat.
// The command name (field 2) is in parentheses and may hold spaces and
// parentheses itself, so the fields are counted after its last ')'.
func parseStatPPID(stat []byte) (int, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat without a command name: %q", stat)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 {
		return 0, fmt.Errorf("stat too short: %q", stat)
	}
	return strconv.Atoi(f[1]) // f[0] is the state
}

// parseStatusKiB returns the value in KiB of a "Name:   123 kB" line of
// /proc/PID/status (VmRSS, VmHWM), 0 when the line is missing (a kernel
// thread or a zombie).
func parseStatusKiB(status []byte, name string) int64 {
	for line := range strings.SplitSeq(string(status), "\n") {
		rest, ok := strings.CutPrefix(line, name+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0
		}
		return n
	}
	return 0
}

// readProcs reads every process of /proc (those that vanish meanwhile are
// skipped).
func readProcs() map[int]procInfo {
	ents, _ := os.ReadDir("/proc")
	out := make(map[int]procInfo, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		ppid, err := parseStatPPID(stat)
		if err != nil {
			continue
		}
		status, _ := os.ReadFile(filepath.Join(dir, "status"))
		cmd, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		out[pid] = procInfo{pid: pid, ppid: ppid, rssKiB: parseStatusKiB(status, "VmRSS"),
			cmdline: strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))}
	}
	return out
}

// treeOf returns root and its descendants in procs.
func treeOf(procs map[int]procInfo, root int) []procInfo {
	children := map[int][]int{}
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	var out []procInfo
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if p, ok := procs[pid]; ok {
			out = append(out, p)
		}
		queue = append(queue, children[pid]...)
	}
	return out
}

// treeSampler samples the summed RSS of a process tree until stopped and
// keeps the peak: the "peak memory" of a command that starts children
// (promptml local's function processes, npx's node).
type treeSampler struct {
	root    int
	exclude func(cmdline string) bool
	stop    chan struct{}
	done    chan struct{}

	mu      sync.Mutex
	peakKiB int64
	maxProc int
}

// sampleTree starts sampling root's tree every interval. exclude, when not
// nil, leaves out processes (and their subtrees are still walked).
func sampleTree(root int, interval time.Duration, exclude func(string) bool) *treeSampler {
	s := &treeSampler{root: root, exclude: exclude, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			s.once()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *treeSampler) once() {
	var sum int64
	n := 0
	for _, p := range treeOf(readProcs(), s.root) {
		if s.exclude != nil && s.exclude(p.cmdline) {
			continue
		}
		sum += p.rssKiB
		n++
	}
	s.mu.Lock()
	s.peakKiB = max(s.peakKiB, sum)
	s.maxProc = max(s.maxProc, n)
	s.mu.Unlock()
}

// Stop ends the sampling and returns the peak summed RSS in MiB and the
// most processes seen at once.
func (s *treeSampler) Stop() (peakMiB float64, procs int) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return float64(s.peakKiB) / 1024, s.maxProc
}

// isEmulator tells the Java emulators apart from promptml's own processes.
func isEmulator(cmdline string) bool {
	return strings.Contains(cmdline, "java") || strings.Contains(cmdline, "emulator")
}
