package logging

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestNoSecretInLogs logs credentials in every place a log line can carry
// them and checks the JSON output holds none of them.
func TestNoSecretInLogs(t *testing.T) {
	const (
		openaiKey = "sk-proj-AbCdEf0123456789ghIJkl"
		idToken   = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJhdWQiOiJodHRwczovL2FwaSIsInN1YiI6IjEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
		googleKey = "AIzaSyA-0123456789abcdefghijklmnopqrstu"
		accessTok = "ya29.a0AfH6SMBx0123456789abcdef"
		password  = "hunter2-correct-horse"
	)
	tests := []struct {
		name   string
		secret string
		log    func(l *slog.Logger)
	}{
		{"authorization header attr", idToken, func(l *slog.Logger) {
			l.Info("request", "authorization", "Bearer "+idToken)
		}},
		{"bearer in a message", idToken, func(l *slog.Logger) {
			l.Info("sent Authorization: Bearer " + idToken)
		}},
		{"id token in an error", idToken, func(l *slog.Logger) {
			l.Error("call failed", "error", fmt.Errorf("idtoken: verify %s: %w", idToken, errors.New("expired")))
		}},
		{"openai key in an error string", openaiKey, func(l *slog.Logger) {
			l.Error("llm failed", "error", "openai: HTTP 401: Incorrect API key provided: "+openaiKey)
		}},
		{"api_key attr", openaiKey, func(l *slog.Logger) {
			l.Info("config", "api_key", openaiKey)
		}},
		{"api_key=… in text", "plainsecretvalue", func(l *slog.Logger) {
			l.Info("query was ?api_key=plainsecretvalue&x=1")
		}},
		{"google api key", googleKey, func(l *slog.Logger) {
			l.Info("vertex", "detail", "key "+googleKey+" rejected")
		}},
		{"oauth access token", accessTok, func(l *slog.Logger) {
			l.Info("token refreshed", "value", accessTok)
		}},
		{"url password", password, func(l *slog.Logger) {
			l.Info("model", "base_url", "http://admin:"+password+"@127.0.0.1:11434/v1")
		}},
		{"grouped attr", openaiKey, func(l *slog.Logger) {
			l.WithGroup("request").Info("nested", "authorization", "Bearer "+openaiKey)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			l := New(&b, "debug")
			tt.log(l)
			if strings.Contains(b.String(), tt.secret) {
				t.Errorf("log holds the secret: %s", b.String())
			}
			if !strings.Contains(b.String(), Redacted) {
				t.Errorf("log has no %s marker: %s", Redacted, b.String())
			}
		})
	}
}

// TestRedactKeepsOrdinaryText: lines without credentials are unchanged.
func TestRedactKeepsOrdinaryText(t *testing.T) {
	for _, s := range []string{
		"run 3 epochs on gs://datasets/a.csv",
		"cache key p0123456789ab",
		"user alice@example.com started a run",
		"token_f1 mean 0.82",
		"bearer of bad news",
	} {
		if got := Redact(s); got != s {
			t.Errorf("Redact(%q) = %q, want it unchanged", s, got)
		}
	}
}
