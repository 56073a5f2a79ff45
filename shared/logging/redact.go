package logging

import (
	"log/slog"
	"regexp"
	"strings"
)

// Redacted replaces a secret in logs.
const Redacted = "[REDACTED]"

// secretPatterns match credentials wherever they appear in a logged
// string: bearer and basic authorization values, JWTs (Google ID and
// access tokens), Google API keys and OAuth access tokens, OpenAI-style
// keys, and the password of a URL's userinfo.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}`),
	regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*`),
	regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{30,}`),
	regexp.MustCompile(`\bya29\.[0-9A-Za-z_-]{10,}`),
	regexp.MustCompile(`\bsk-[A-Za-z0-9_-]{16,}`),
	regexp.MustCompile(`(?i)\b(api[_-]?key|access[_-]?token|id[_-]?token|client[_-]?secret|password)(["']?\s*[:=]\s*["']?)[^\s"'&,;]{4,}`),
	regexp.MustCompile(`(://[^/\s:@]+:)[^/\s@]+@`),
}

// secretKeys are attribute keys whose values are never logged.
var secretKeys = map[string]bool{
	"authorization": true, "api_key": true, "apikey": true, "token": true, "id_token": true,
	"access_token": true, "password": true, "secret": true, "client_secret": true, "cookie": true,
}

// Redact replaces the credentials that s contains with [REDACTED]. The
// JSON logger applies it to every message and string attribute, and to
// errors, so a key echoed by a provider's error reply or a token in a
// failed request's text never reaches the logs.
func Redact(s string) string {
	if !maybeSecret(s) {
		return s
	}
	for i, re := range secretPatterns {
		switch i {
		case 5:
			s = re.ReplaceAllString(s, "${1}${2}"+Redacted)
		case 6:
			s = re.ReplaceAllString(s, "${1}"+Redacted+"@")
		default:
			s = re.ReplaceAllStringFunc(s, func(m string) string {
				if f := strings.Fields(m); len(f) == 2 { // keep "Bearer"
					return f[0] + " " + Redacted
				}
				return Redacted
			})
		}
	}
	return s
}

// maybeSecret is a cheap pre-check that skips the regular expressions for
// the usual log line.
func maybeSecret(s string) bool {
	l := strings.ToLower(s)
	for _, k := range []string{"bearer", "basic", "eyj", "aiza", "ya29.", "sk-", "key", "token", "secret", "password", "@"} {
		if strings.Contains(l, k) {
			return true
		}
	}
	return false
}

// redactAttr is the ReplaceAttr step that applies Redact.
func redactAttr(a slog.Attr) slog.Attr {
	if secretKeys[strings.ToLower(a.Key)] {
		return slog.String(a.Key, Redacted)
	}
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); maybeSecret(s) {
			a.Value = slog.StringValue(Redact(s))
		}
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			a.Value = slog.StringValue(Redact(err.Error()))
		}
	}
	return a
}
