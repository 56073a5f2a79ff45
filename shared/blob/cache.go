package blob

import (
	"context"
	"errors"
)

// CachePrefix is where the LLM response cache lives in the artifacts
// bucket: one object per reply, named by its content key. A lifecycle rule
// on the prefix expires old replies (terraform/storage.tf).
const CachePrefix = "cache/llm/"

// maxCacheObject bounds a cached reply read back (a reply is small; a
// bigger object is not ours).
const maxCacheObject = 8 << 20

// Cache is the LLM response cache in a bucket (an llm.Cache). Objects are
// immutable in practice: a key names the reply of one exact request, so a
// concurrent second write stores the same bytes.
type Cache struct {
	Store interface {
		ReadAll(ctx context.Context, bucket, name string, limit int64) ([]byte, error)
		Write(ctx context.Context, bucket, name, contentType string, data []byte) error
	}
	Bucket string
}

// CachePath is the object of a cache key.
func CachePath(key string) string {
	if len(key) < 2 {
		return CachePrefix + key + ".json"
	}
	return CachePrefix + key[:2] + "/" + key + ".json"
}

// Get reads the reply stored under key.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := c.Store.ReadAll(ctx, c.Bucket, CachePath(key), maxCacheObject)
	if errors.Is(err, ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// Put stores value under key.
func (c *Cache) Put(ctx context.Context, key string, value []byte) error {
	return c.Store.Write(ctx, c.Bucket, CachePath(key), "application/json", value)
}
