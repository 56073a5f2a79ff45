package sim

import (
	"bytes"
	"io"
	"sort"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

func nil_objs() []fakestorage.Object { return nil }
func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
func sortPairs(ps []pair) {
	sort.Slice(ps, func(i, j int) bool { return hashOf(42, ps[i].in) < hashOf(42, ps[j].in) })
}
