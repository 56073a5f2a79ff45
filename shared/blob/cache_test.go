package blob

import (
	"strings"
	"testing"
)

func TestCache(t *testing.T) {
	s := newStore(t, false)
	c := &Cache{Store: s, Bucket: "b"}
	key := strings.Repeat("ab", 32)
	if _, ok, err := c.Get(t.Context(), key); ok || err != nil {
		t.Fatalf("empty cache: ok %v err %v, want a miss", ok, err)
	}
	if err := c.Put(t.Context(), key, []byte(`{"v":1}`)); err != nil {
		t.Fatal(err)
	}
	v, ok, err := c.Get(t.Context(), key)
	if !ok || err != nil || string(v) != `{"v":1}` {
		t.Errorf("Get = %q %v %v, want the stored value", v, ok, err)
	}
	if got, want := CachePath(key), "cache/llm/ab/"+key+".json"; got != want {
		t.Errorf("CachePath = %q, want %q", got, want)
	}
}
