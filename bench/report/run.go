package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a command the harness started, in its own process group, with
// its output lines timestamped as they arrive.
type proc struct {
	cmd     *exec.Cmd
	start   time.Time
	sampler *treeSampler
	done    chan struct{}
	err     error

	mu    sync.Mutex
	lines []timedLine
	wait  []lineWaiter
}

type timedLine struct {
	at   time.Time
	text string
}

type lineWaiter struct {
	prefix string
	ch     chan timedLine
}

// startProc starts name args with env added to the harness's environment,
// samples its process tree's RSS (leaving out processes exclude matches)
// and collects its stdout and stderr lines. log, if not nil, gets a copy.
func startProc(ctx context.Context, dir string, env []string, exclude func(string) bool, log io.Writer, name string, args ...string) (*proc, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &proc{cmd: cmd, done: make(chan struct{})}
	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p.sampler = sampleTree(cmd.Process.Pid, 50*time.Millisecond, exclude)
	var readers sync.WaitGroup
	readers.Go(func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			l := timedLine{at: time.Now(), text: sc.Text()}
			if log != nil {
				fmt.Fprintln(log, l.text)
			}
			p.mu.Lock()
			p.lines = append(p.lines, l)
			p.wait = slices.DeleteFunc(p.wait, func(w lineWaiter) bool {
				if strings.Contains(l.text, w.prefix) {
					w.ch <- l
					return true
				}
				return false
			})
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, pr)
	})
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		readers.Wait()
		close(p.done)
	}()
	_ = ctx
	return p, nil
}

// waitLine waits for an output line containing s and returns when it came.
func (p *proc) waitLine(ctx context.Context, s string, timeout time.Duration) (timedLine, error) {
	ch := make(chan timedLine, 1)
	p.mu.Lock()
	for _, l := range p.lines {
		if strings.Contains(l.text, s) {
			p.mu.Unlock()
			return l, nil
		}
	}
	p.wait = append(p.wait, lineWaiter{prefix: s, ch: ch})
	p.mu.Unlock()
	select {
	case l := <-ch:
		return l, nil
	case <-p.done:
		select {
		case l := <-ch:
			return l, nil
		default:
		}
		return timedLine{}, fmt.Errorf("%s exited (%v) before printing %q:\n%s", p.cmd.Path, p.err, s, p.tail(30))
	case <-time.After(timeout):
		return timedLine{}, fmt.Errorf("%s: no %q after %s:\n%s", p.cmd.Path, s, timeout, p.tail(30))
	case <-ctx.Done():
		return timedLine{}, ctx.Err()
	}
}

// tail returns the last n output lines.
func (p *proc) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, l := range p.lines[max(0, len(p.lines)-n):] {
		b.WriteString("  " + l.text + "\n")
	}
	return b.String()
}

// cpu returns the user + system CPU time of the exited process and of the
// children it waited for (promptml local waits for its functions).
func (p *proc) cpu() time.Duration {
	if p.cmd.ProcessState == nil {
		return 0
	}
	return p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()
}

// waitExit waits for the process to exit and returns its wall time, its
// tree's peak RSS in MiB and the most processes seen at once.
func (p *proc) waitExit(ctx context.Context, timeout time.Duration) (time.Duration, float64, int, error) {
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.kill()
		return 0, 0, 0, fmt.Errorf("%s did not end within %s:\n%s", p.cmd.Path, timeout, p.tail(30))
	case <-ctx.Done():
		p.kill()
		return 0, 0, 0, ctx.Err()
	}
	wall := time.Since(p.start)
	peak, n := p.sampler.Stop()
	if p.err != nil {
		return wall, peak, n, fmt.Errorf("%s: %w:\n%s", p.cmd.Path, p.err, p.tail(40))
	}
	return wall, peak, n, nil
}

// interrupt asks the process to stop (SIGINT to it alone: promptml local
// stops the children it started itself).
func (p *proc) interrupt() { _ = p.cmd.Process.Signal(os.Interrupt) }

// kill kills the process group.
func (p *proc) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}
