package main

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// goBench is one result line of `go test -bench`.
type goBench struct {
	Pkg      string
	Name     string // without the Benchmark prefix and the -GOMAXPROCS suffix
	N        int64
	NsPerOp  float64
	Metrics  map[string]float64 // every other "value unit" pair: B/op, allocs/op, rows/s, …
	Original string
}

// parseGoBench reads `go test -bench` output (several packages may follow
// each other); "pkg:" lines name the package of the lines after them.
func parseGoBench(r io.Reader) []goBench {
	var out []goBench
	pkg := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue // a benchmark's own log line, or a failure
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		b := goBench{Pkg: pkg, Name: name, N: n, Metrics: map[string]float64{}, Original: line}
		ok := true
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				ok = false
				break
			}
			if f[i+1] == "ns/op" {
				b.NsPerOp = v
			} else {
				b.Metrics[f[i+1]] = v
			}
		}
		if ok {
			out = append(out, b)
		}
	}
	return out
}
