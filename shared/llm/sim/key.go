package sim

import (
	"context"
	"io"
	"time"

	"cloud.google.com/go/storage"

	"github.com/promptml/promptml/shared/llm/sim/primary"
)

// The primary's answer key and habits, named here too so that the callers
// that build a simulator (the local cloud, the pipeline's tests) configure
// it from one package.

// KeySource finds the dataset example a primary prompt is about
// (primary.KeySource).
type KeySource = primary.KeySource

// Key is an immutable answer key (primary.Key).
type Key = primary.Key

// BucketKey is the answer key over a datasets bucket (primary.BucketKey).
type BucketKey = primary.BucketKey

// Habit is one formatting habit of the primary (primary.Habit).
type Habit = primary.Habit

// The primary's habits.
const (
	Preamble       = primary.Preamble
	Quotes         = primary.Quotes
	Explanation    = primary.Explanation
	Capitalization = primary.Capitalization
)

// NewKey builds a key from input → ground-truth pairs (primary.NewKey).
func NewKey(pairs map[string]string) *Key { return primary.NewKey(pairs) }

// ParseCSV reads input → ground-truth pairs from a dataset CSV
// (primary.ParseCSV).
func ParseCSV(r io.Reader) (map[string]string, error) { return primary.ParseCSV(r) }

// LoadBucket builds a key from every CSV of a bucket (primary.LoadBucket).
func LoadBucket(ctx context.Context, client *storage.Client, bucket string) (*Key, error) {
	return primary.LoadBucket(ctx, client, bucket)
}

// NewBucketKey returns a key over bucket, reloaded at most every refresh
// (primary.NewBucketKey).
func NewBucketKey(client *storage.Client, bucket string, refresh time.Duration) *BucketKey {
	return primary.NewBucketKey(client, bucket, refresh)
}
