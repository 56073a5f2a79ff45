package primary

import (
	"encoding/binary"
	"hash/fnv"
	"math"
)

// hashOf is the one source of "randomness" in the simulator: FNV-1a 64 of the
// seed and the parts, each part length-prefixed so that ("ab","c") and
// ("a","bc") never collide by construction. Every decision is a pure function
// of its inputs, which is what makes runs reproducible.
func hashOf(seed int64, parts ...string) uint64 {
	h := fnv.New64a()
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], uint64(seed))
	h.Write(buf[:])
	for _, p := range parts {
		binary.LittleEndian.PutUint64(buf[:], uint64(len(p)))
		h.Write(buf[:])
		h.Write([]byte(p))
	}
	return mix(h.Sum64())
}

// mix is the splitmix64 finalizer: FNV's low bits are poorly distributed for
// short, similar inputs, and the decisions below read the high bits as a
// uniform number.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// unit maps a hash to a float in [0, 1).
func unit(h uint64) float64 {
	return float64(h>>11) / (1 << 53)
}

// chance reports whether the decision named by parts falls under p.
func chance(seed int64, p float64, parts ...string) bool {
	if p <= 0 || math.IsNaN(p) {
		return false
	}
	return unit(hashOf(seed, parts...)) < p
}

// Hash is hashOf for the package sim's own draws (rate limits), so the
// simulator has one seeded hash.
func Hash(seed int64, parts ...string) uint64 { return hashOf(seed, parts...) }

// Chance is chance for the package sim's own draws.
func Chance(seed int64, p float64, parts ...string) bool { return chance(seed, p, parts...) }

// pick returns an index in [0, n) chosen by the hash of parts.
func pick(seed int64, n int, parts ...string) int {
	if n <= 1 {
		return 0
	}
	return int(hashOf(seed, parts...) % uint64(n))
}
