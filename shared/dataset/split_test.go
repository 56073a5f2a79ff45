package dataset

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAssignerTies forces equal keys (impossible with unique ids and
// SHA-256, but the tie rule must still give exact counts): rows with the
// same key are ordered by file position.
func TestAssignerTies(t *testing.T) {
	tests := []struct {
		name        string
		keys        []uint64
		nVal, nTest int
		want        []int
	}{
		{"distinct", []uint64{30, 10, 20, 40}, 1, 2, []int{idxTest, idxVal, idxTest, idxTrain}},
		{"tie across val/test", []uint64{5, 5, 5, 1, 9}, 2, 2, []int{idxVal, idxTest, idxTest, idxVal, idxTrain}},
		{"tie across all three", []uint64{7, 7, 7, 7}, 1, 2, []int{idxVal, idxTest, idxTest, idxTrain}},
		{"all val", []uint64{3, 1, 2}, 3, 0, []int{idxVal, idxVal, idxVal}},
		{"all test", []uint64{3, 1, 2}, 0, 3, []int{idxTest, idxTest, idxTest}},
		{"max key", []uint64{^uint64(0), ^uint64(0), 0}, 1, 2, []int{idxTest, idxTest, idxVal}},
		{"none", []uint64{3, 1, 2}, 0, 0, []int{idxTrain, idxTrain, idxTrain}},
		{"empty", nil, 0, 0, []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inFileOrder := append([]uint64(nil), tt.keys...)
			a := newAssigner(tt.keys, tt.nVal, tt.nTest)
			got := []int{}
			for _, k := range inFileOrder {
				got = append(got, a.assign(k))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("assignment mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitCounts(t *testing.T) {
	tests := []struct {
		n         int
		r         Ratios
		val, test int
	}{
		{0, Ratios{0.8, 0.1, 0.1}, 0, 0},
		{1, Ratios{0.8, 0.1, 0.1}, 0, 0},
		{15, Ratios{0.8, 0.1, 0.1}, 2, 2}, // 1.5 rounds away from zero
		{10, Ratios{0.7, 0.15, 0.15}, 2, 2},
		{1, Ratios{1e-9, 0.5, 0.5 - 1e-9}, 1, 0},
	}
	for _, tt := range tests {
		val, test := splitCounts(tt.n, tt.r)
		if val != tt.val || test != tt.test {
			t.Errorf("splitCounts(%d, %v) = %d, %d; want %d, %d", tt.n, tt.r, val, test, tt.val, tt.test)
		}
	}
}
