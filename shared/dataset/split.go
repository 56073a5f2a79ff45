package dataset

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"slices"
)

// keyer hashes ids for the split and for duplicate detection. The digest of
// an id is SHA-256(seed as 8 bytes big-endian || id): its first 8 bytes,
// big-endian, are the row's split key, its first 16 bytes identify the id.
// A cryptographic hash keeps the split independent of how ids are chosen
// and makes a false "duplicate id" practically impossible.
type keyer struct {
	seed int64
	buf  []byte
}

func (k *keyer) digest(id string) [sha256.Size]byte {
	k.buf = binary.BigEndian.AppendUint64(k.buf[:0], uint64(k.seed))
	k.buf = append(k.buf, id...)
	return sha256.Sum256(k.buf)
}

func splitKey(d [sha256.Size]byte) uint64 { return binary.BigEndian.Uint64(d[:8]) }

// splitCounts returns how many of n unassigned rows go to val and to test:
// round(n×ratio), half away from zero. Train gets the rest.
func splitCounts(n int, r Ratios) (val, test int) {
	val = int(math.Round(float64(n) * r.Val))
	test = int(math.Round(float64(n) * r.Test))
	// With Train > 0 the sum cannot exceed n in exact arithmetic; clamp
	// against float rounding so train is never negative.
	val = min(val, n)
	test = min(test, n-val)
	return val, test
}

// cut is a boundary in the order of rows by (split key, file order): the
// rows before it are "below". It is described by the key at the boundary and
// how many rows with exactly that key are below, so that the second pass can
// place every row by looking at its own key and counting ties in file order,
// without the sorted list.
type cut struct {
	key  uint64
	ties int // rows with this key that are below, the first ones in file order
	seen int // rows with this key seen so far in the second pass
}

// newCut returns the boundary that leaves the first p rows of sorted below.
func newCut(sorted []uint64, p int) cut {
	if p >= len(sorted) {
		return cut{key: math.MaxUint64, ties: len(sorted)}
	}
	k := sorted[p]
	first, _ := slices.BinarySearch(sorted, k)
	return cut{key: k, ties: p - first}
}

// below reports whether the row with key k, the next in file order, is below
// the cut. Call it for every row, in file order.
func (c *cut) below(k uint64) bool {
	switch {
	case k < c.key:
		return true
	case k == c.key:
		c.seen++
		return c.seen <= c.ties
	}
	return false
}

// assigner places the rows without an explicit split: the nVal smallest keys
// go to val, the next nTest to test, the rest to train, which gives exact
// counts and, for a good hash, a uniformly random choice per seed.
type assigner struct {
	val, test cut
}

// newAssigner sorts keys in place (they are not needed afterwards).
func newAssigner(keys []uint64, nVal, nTest int) *assigner {
	slices.Sort(keys)
	return &assigner{val: newCut(keys, nVal), test: newCut(keys, nVal+nTest)}
}

// assign returns the split index of the next unassigned row in file order.
func (a *assigner) assign(k uint64) int {
	// Both cuts must see every row to count ties.
	inVal := a.val.below(k)
	inValOrTest := a.test.below(k)
	switch {
	case inVal:
		return idxVal
	case inValOrTest:
		return idxTest
	}
	return idxTrain
}

// idIndex finds duplicate ids with 16 bytes per row whatever the length of
// the ids: it keeps the first 12 bytes of each id's digest and its row, and
// sorts them once at the end (a map would take about three times as much).
// With 96 bits, a false duplicate among a billion rows has a probability
// under 1e-10.
type idIndex struct {
	ids []idEntry
}

type idEntry struct {
	hi  uint64 // digest bytes 0–7
	lo  uint32 // digest bytes 8–11
	row int32
}

func (x *idIndex) add(d [sha256.Size]byte, row int) {
	x.ids = append(x.ids, idEntry{
		hi:  binary.BigEndian.Uint64(d[:8]),
		lo:  binary.BigEndian.Uint32(d[8:12]),
		row: int32(row),
	})
}

// firstDuplicate returns the earliest row whose id appeared on an earlier
// row, and that earlier row. It sorts the index and then drops it.
func (x *idIndex) firstDuplicate() (first, dup int, ok bool) {
	slices.SortFunc(x.ids, func(a, b idEntry) int {
		if c := cmp.Compare(a.hi, b.hi); c != 0 {
			return c
		}
		if c := cmp.Compare(a.lo, b.lo); c != 0 {
			return c
		}
		return cmp.Compare(a.row, b.row)
	})
	// Rows with the same id are adjacent, in ascending order; the second
	// row of each group is that id's first duplicate.
	start := 0
	for i := 1; i < len(x.ids); i++ {
		g, e := x.ids[start], x.ids[i]
		if e.hi != g.hi || e.lo != g.lo {
			start = i
			continue
		}
		if i == start+1 && (!ok || int(e.row) < dup) {
			first, dup, ok = int(g.row), int(e.row), true
		}
	}
	x.ids = nil
	return first, dup, ok
}
