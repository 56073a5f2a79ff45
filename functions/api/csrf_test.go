package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCrossSiteRefused: a page on another site can make the browser POST a
// form to the API (multipart or text/plain need no preflight); those
// requests must not start or cancel runs. The CLI sends neither
// Sec-Fetch-Site nor Origin and is unaffected.
func TestCrossSiteRefused(t *testing.T) {
	e := newEnv(t, "")
	const run = "/runs/aaaaaaaaaaaaaaaaaaaaaaaaaa"
	tests := []struct {
		name, method, target, ctype, body string
		header                            map[string]string
		want                              int
	}{
		{"multipart start, cross-site", http.MethodPost, "/runs", "multipart/form-data; boundary=x",
			"--x\r\nContent-Disposition: form-data; name=\"csv\"; filename=\"a.csv\"\r\n\r\nuser_input,ground_truth_output\r\na,b\r\n--x--\r\n",
			map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"text/plain cancel, cross-site", http.MethodPost, run + ":cancel", "text/plain", "",
			map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"cancel from another origin (no Sec-Fetch-Site)", http.MethodPost, run + ":cancel", "text/plain", "",
			map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"dashboard form, cross-site", http.MethodPost, "/ui" + run + "/cancel", "application/x-www-form-urlencoded", "",
			map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"reading is allowed cross-site", http.MethodGet, "/runs", "", "",
			map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusOK},
		{"same origin cancel reaches the handler", http.MethodPost, run + ":cancel", "", "",
			map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusNotFound},
		{"CLI cancel (no browser headers) reaches the handler", http.MethodPost, run + ":cancel", "", "",
			nil, http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequestWithContext(t.Context(), tc.method, tc.target, strings.NewReader(tc.body))
			req.Host = "127.0.0.1:8080"
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("%s %s = %d %s, want %d", tc.method, tc.target, rec.Code, rec.Body, tc.want)
			}
		})
	}
}
