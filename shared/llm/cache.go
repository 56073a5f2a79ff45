package llm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"strconv"
)

// Cache modes (config `cache`).
const (
	// CacheOff neither reads nor writes the response cache.
	CacheOff = "off"
	// CacheRead answers from the cache when it can but stores nothing.
	CacheRead = "read"
	// CacheReadWrite answers from the cache and stores every new reply.
	CacheReadWrite = "readwrite"
)

// Cache stores replies by key. Implementations are shared by every run of
// an instance (and, in the cloud, by every instance).
type Cache interface {
	// Get returns the value stored under key; ok is false on a miss.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Put stores value under key.
	Put(ctx context.Context, key string, value []byte) error
}

// CacheKey is the content address of a request: SHA-256 (hex) over every
// field that changes the reply — provider, model, generation parameters
// (temperature, max output tokens, seed, response schema, thinking control
// when set), system prompt,
// user content and sample index — each length-prefixed so that no two
// different requests share a key. Purpose is left out: the same call asked
// by the judge or the primary is the same call.
func CacheKey(provider string, req *Request) string {
	h := sha256.New()
	field := func(name, v string) {
		fmt.Fprintf(h, "%s:%d:%s\n", name, len(v), v)
	}
	field("v", "1")
	field("provider", provider)
	field("model", req.Model)
	temp := "-"
	if req.Temperature != nil {
		temp = strconv.FormatFloat(*req.Temperature, 'g', -1, 64)
	}
	field("temperature", temp)
	field("max_output_tokens", strconv.Itoa(req.MaxOutputTokens))
	seed := "-"
	if req.Seed != nil {
		seed = strconv.FormatInt(*req.Seed, 10)
	}
	field("seed", seed)
	schema := "-"
	if req.ResponseSchema != nil {
		// encoding/json sorts map keys: the same schema, the same bytes.
		b, err := json.Marshal(req.ResponseSchema)
		if err != nil {
			b = []byte(fmt.Sprintf("%#v", req.ResponseSchema))
		}
		schema = string(b)
	}
	field("schema", schema)
	if req.Thinking != nil {
		// Only when set, so the keys of requests without a thinking
		// control (every reply cached before it existed) are unchanged.
		b, _ := json.Marshal(req.Thinking)
		field("thinking", string(b))
	}
	if req.ResponseMIMEType != "" {
		// Only when set, like thinking: earlier keys are unchanged.
		field("mime", req.ResponseMIMEType)
	}
	field("system", req.System)
	field("prompt", req.Prompt)
	field("sample", strconv.Itoa(req.Sample))
	return sum(h)
}

func sum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// cached is the stored form of a reply.
type cached struct {
	V        int      `json:"v"`
	Provider string   `json:"provider"`
	Response Response `json:"response"`
}
