package pipeline

import (
	"strings"
	"testing"
	"time"
)

func TestUploadObject(t *testing.T) {
	now := time.Date(2026, 11, 26, 21, 59, 6, 0, time.UTC)
	for _, tc := range []struct{ name, want string }{
		{"translation-fr.csv", "/translation-fr.csv"},
		{"my data.CSV", "/my-data.CSV"},
		{`C:\Users\me\x.csv`, "/x.csv"},
		{"../../etc/passwd", "/passwd.csv"},
		{"", "/data.csv"},
		{"données.tsv", "/donn-es.tsv.csv"},
	} {
		got := UploadObject(tc.name, now)
		if !strings.HasPrefix(got, UploadPrefix+"20261126-215906-") || !strings.HasSuffix(got, tc.want) || strings.Count(got, "/") != 2 {
			t.Errorf("UploadObject(%q) = %q, want uploads/20261126-215906-<random>%s", tc.name, got, tc.want)
		}
	}
	if a, b := UploadObject("a.csv", now), UploadObject("a.csv", now); a == b {
		t.Error("two uploads of the same name at the same second share an object")
	}
}
