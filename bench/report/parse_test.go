package main

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseStatPPID(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    int
		wantErr bool
	}{
		{"plain", "1234 (promptml) S 77 1234 1234 0 -1", 77, false},
		{"command with spaces and parentheses", "99 (node (worker) 2) R 12 99 99 0", 12, false},
		{"no command", "1234 S 77", 0, true},
		{"truncated", "1234 (x) S", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatPPID([]byte(tc.stat))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseStatPPID(%q) = %d, %v; want %d (error %v)", tc.stat, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseStatusKiB(t *testing.T) {
	status := "Name:\tnode\nVmPeak:\t 1000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n"
	tests := []struct {
		name, field string
		want        int64
	}{
		{"rss", "VmRSS", 102400},
		{"high water mark", "VmHWM", 204800},
		{"missing (a kernel thread)", "VmSwap", 0},
		{"prefix of another field is not it", "Vm", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseStatusKiB([]byte(status), tc.field); got != tc.want {
				t.Errorf("parseStatusKiB(%s) = %d, want %d", tc.field, got, tc.want)
			}
		})
	}
}

// TestTreeOf sums a tree and leaves out other processes.
func TestTreeOf(t *testing.T) {
	procs := map[int]procInfo{
		1:  {pid: 1, ppid: 0, rssKiB: 5},
		10: {pid: 10, ppid: 1, rssKiB: 100},
		11: {pid: 11, ppid: 10, rssKiB: 20},
		12: {pid: 12, ppid: 11, rssKiB: 3},
		20: {pid: 20, ppid: 1, rssKiB: 1000},
	}
	var pids []int
	for _, p := range treeOf(procs, 10) {
		pids = append(pids, p.pid)
	}
	if diff := cmp.Diff([]int{10, 11, 12}, pids, cmpopts.SortSlices(func(a, b int) bool { return a < b })); diff != "" {
		t.Errorf("tree of 10 (-want +got):\n%s", diff)
	}
	if got := treeOf(procs, 99); len(got) != 0 {
		t.Errorf("tree of a gone process = %v, want empty", got)
	}
}

// TestSampleTreeSelf samples this test process: a real /proc read.
func TestSampleTreeSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	s := sampleTree(os.Getpid(), 10_000_000, nil)
	peak, n := s.Stop()
	if peak <= 0 || n < 1 {
		t.Errorf("peak %.1f MiB over %d processes, want this process's RSS", peak, n)
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/promptml/promptml/shared/eval
cpu: AMD EPYC 7B13
BenchmarkMetrics/exact_match-2         	     200	        16.00 ns/op
BenchmarkMetrics/bleu-2                	     200	    148391 ns/op
PASS
ok  	github.com/promptml/promptml/shared/eval	0.5s
pkg: github.com/promptml/promptml/shared/dataset
BenchmarkIngest-2   	       3	 177000000 ns/op	    563535 rows/s	   7234567 B/op	  201218 allocs/op
BenchmarkIngest-2   some log line the benchmark printed
BenchmarkValidate   	       3	  90000000 ns/op
--- FAIL: BenchmarkBroken
`
	got := parseGoBench(strings.NewReader(out))
	want := []goBench{
		{Pkg: "github.com/promptml/promptml/shared/eval", Name: "Metrics/exact_match", N: 200, NsPerOp: 16, Metrics: map[string]float64{}},
		{Pkg: "github.com/promptml/promptml/shared/eval", Name: "Metrics/bleu", N: 200, NsPerOp: 148391, Metrics: map[string]float64{}},
		{Pkg: "github.com/promptml/promptml/shared/dataset", Name: "Ingest", N: 3, NsPerOp: 177000000,
			Metrics: map[string]float64{"rows/s": 563535, "B/op": 7234567, "allocs/op": 201218}},
		{Pkg: "github.com/promptml/promptml/shared/dataset", Name: "Validate", N: 3, NsPerOp: 90000000, Metrics: map[string]float64{}},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(goBench{}, "Original")); diff != "" {
		t.Errorf("parseGoBench (-want +got):\n%s", diff)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		want float64
	}{
		{"none", nil, 0},
		{"one", []float64{3}, 3},
		{"odd, unsorted", []float64{9, 1, 5}, 5},
		{"even: mean of the middle two", []float64{4, 1, 3, 2}, 2.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := median(tc.xs); got != tc.want {
				t.Errorf("median(%v) = %v, want %v", tc.xs, got, tc.want)
			}
		})
	}
}

func TestDemoteHeadings(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"leading heading dropped, the rest nested", "## Pipeline efficiency\n\ntext\n### Per stage\n```\n# not a heading\n```\n",
			"text\n### Per stage\n```\n# not a heading\n```\n"},
		{"top-level headings shifted to ###", "intro\n# A\n## B\n", "intro\n### A\n#### B\n"},
		{"deep enough already", "intro\n#### A\n", "intro\n#### A\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := demoteHeadings(tc.in); got != tc.want {
				t.Errorf("demoteHeadings:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestCPUModelAndFormat(t *testing.T) {
	if got := cpuModel("processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: x\nmodel name\t: other\n"); got != "AMD EPYC 7B13" {
		t.Errorf("cpuModel = %q", got)
	}
	for in, want := range map[float64]string{16: "16", 1.5: "1.5", 148391: "148,391", 1234567.4: "1,234,567", 100: "100"} {
		if got := formatNum(in); got != want {
			t.Errorf("formatNum(%v) = %q, want %q", in, got, want)
		}
	}
}
