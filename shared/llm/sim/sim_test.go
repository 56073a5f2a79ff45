package sim

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/llm"
)

func TestErrorRate(t *testing.T) {
	ps := generatedPairs(1000)
	m := New(Options{Key: keyOf(ps), ErrorRate: 0.2, Seed: 9})
	ctx := context.Background()
	var failed int
	for _, p := range ps {
		req := primaryReq(p.in, neutralSystem, neutralOutput)
		_, err := m.Generate(ctx, req)
		if err == nil {
			continue
		}
		failed++
		var le *llm.Error
		if !errors.As(err, &le) || le.Kind != llm.Transient || le.Code != 429 || le.Reason != "rate_limited" {
			t.Fatalf("error = %v, want a transient 429 rate_limited *llm.Error", err)
		}
		// The same request retried must eventually succeed.
		ok := false
		for try := 0; try < 20 && !ok; try++ {
			_, err = m.Generate(ctx, req)
			ok = err == nil
		}
		if !ok {
			t.Fatalf("request %q still failing after 20 retries: %v", p.in, err)
		}
	}
	if share := float64(failed) / float64(len(ps)); share < 0.16 || share > 0.24 {
		t.Errorf("first-attempt failure share = %.3f, want ≈ 0.2", share)
	}

	// A fresh model with the same options fails the same first attempts.
	again := New(Options{Key: keyOf(ps), ErrorRate: 0.2, Seed: 9})
	var failedAgain int
	for _, p := range ps {
		if _, err := again.Generate(ctx, primaryReq(p.in, neutralSystem, neutralOutput)); err != nil {
			failedAgain++
		}
	}
	if failedAgain != failed {
		t.Errorf("failures not reproducible: %d then %d", failed, failedAgain)
	}
}

func TestLatency(t *testing.T) {
	key := NewKey(map[string]string{frIn: frTruth})
	t.Run("waits", func(t *testing.T) {
		m := New(Options{Key: key, Latency: 30 * time.Millisecond})
		start := time.Now()
		if _, err := m.Generate(context.Background(), primaryReq(frIn, "", "")); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 30*time.Millisecond {
			t.Errorf("returned after %v, want >= 30ms", d)
		}
	})
	t.Run("honours cancellation", func(t *testing.T) {
		m := New(Options{Key: key, Latency: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := m.Generate(ctx, primaryReq(frIn, "", ""))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("returned after %v", d)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := New(Options{Key: key}).Generate(ctx, primaryReq(frIn, "", ""))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	})
}

func TestNilRequest(t *testing.T) {
	_, err := New(Options{}).Generate(context.Background(), nil)
	var le *llm.Error
	if !errors.As(err, &le) || le.Kind != llm.Permanent || le.Reason != "bad_request" {
		t.Errorf("error = %v, want a permanent bad_request", err)
	}
}

// failingKey is a KeySource whose storage is down.
type failingKey struct{}

func (failingKey) Lookup(context.Context, string) (string, string, bool, error) {
	return "", "", false, fmt.Errorf("bucket unreachable")
}

func TestKeyErrorIsTransient(t *testing.T) {
	_, err := New(Options{Key: failingKey{}}).Generate(context.Background(), primaryReq(frIn, "", ""))
	if !llm.IsTransient(err) {
		t.Errorf("error = %v, want transient", err)
	}
}

func TestResponse(t *testing.T) {
	key := NewKey(map[string]string{frIn: frTruth})
	m := New(Options{Key: key, WrongRate: -1, Rates: map[Habit]float64{Preamble: 0, Quotes: 0, Explanation: 0, Capitalization: 0}})
	tests := []struct {
		name string
		req  *llm.Request
		want *llm.Response
	}{
		{"primary", primaryReq(frIn, "sys", "out"), &llm.Response{Text: frTruth, Model: "sim", FinishReason: "STOP",
			Usage: llm.Usage{InputTokens: 1 + 10, OutputTokens: 4, TotalTokens: 15}}},
		{"schema without optimizer purpose is primary", &llm.Request{Prompt: frIn, Purpose: "judge", Model: "sim-x",
			ResponseSchema: map[string]any{"type": "object"}}, &llm.Response{Text: frTruth, Model: "sim-x", FinishReason: "STOP",
			Usage: llm.Usage{InputTokens: 8, OutputTokens: 4, TotalTokens: 12}}},
		{"max output tokens truncates", &llm.Request{Prompt: frIn, MaxOutputTokens: 2}, &llm.Response{Text: "Bonjour ", Model: "sim", FinishReason: "MAX_TOKENS",
			Usage: llm.Usage{InputTokens: 8, OutputTokens: 2, TotalTokens: 10}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Generate(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}
