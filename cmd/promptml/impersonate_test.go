package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/api/option"
)

const (
	testCLIAccount = "promptml-cli@my-project.iam.gserviceaccount.com"
	// baseAccessToken stands for the user's ADC access token that the IAM
	// Credentials call carries.
	baseAccessToken = "ya29.user-adc-token"
	mintedIDToken   = "eyJ.impersonated-id-token.sig"
)

// fakeIAMCredentials is a loopback IAM Credentials API: it answers
// generateIdToken for testCLIAccount after checking the request the way
// the real service would see it.
func fakeIAMCredentials(t *testing.T, wantAudience string, calls *atomic.Int32) *httptest.Server {
	t.Helper()
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		wantPath := "/v1/projects/-/serviceAccounts/" + testCLIAccount + ":generateIdToken"
		if r.Method != http.MethodPost || r.URL.Path != wantPath {
			t.Errorf("IAM Credentials got %s %s, want POST %s", r.Method, r.URL.Path, wantPath)
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+baseAccessToken {
			t.Errorf("IAM Credentials call authorized with %q, want the caller's ADC token", got)
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		var body struct {
			Audience     string   `json:"audience"`
			IncludeEmail bool     `json:"includeEmail"`
			Delegates    []string `json:"delegates"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("IAM Credentials body: %v", err)
		}
		if body.Audience != wantAudience || !body.IncludeEmail || len(body.Delegates) != 0 {
			t.Errorf("generateIdToken body %+v, want audience %q with includeEmail", body, wantAudience)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"token": "`+mintedIDToken+`"}`)
	}))
}

// toFake sends the requests addressed to iamcredentials.googleapis.com to
// the fake, with the base credentials' Authorization header: the client
// option.WithHTTPClient hands to the impersonate package.
type toFake struct {
	fake *url.URL
	t    *testing.T
}

func (f toFake) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != "iamcredentials.googleapis.com" || r.URL.Scheme != "https" {
		f.t.Errorf("impersonation called %s, want https://iamcredentials.googleapis.com", r.URL)
	}
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = f.fake.Scheme, f.fake.Host
	r.Header.Set("Authorization", "Bearer "+baseAccessToken)
	return http.DefaultTransport.RoundTrip(r)
}

// TestCLIImpersonatesServiceAccount: `promptml runs` with
// --impersonate-service-account (and with the environment variable) gets an
// ID token for the API's URL from the IAM Credentials API and calls the
// "deployed" API with it.
func TestCLIImpersonatesServiceAccount(t *testing.T) {
	var apiCalls atomic.Int32
	deployed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apiCalls.Add(1)
		if got := r.Header.Get("Authorization"); got != "Bearer "+mintedIDToken {
			http.Error(w, "The request was not authenticated", http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/runs" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"runs": [{"id": "run-impersonated", "status": "succeeded"}]}`)
	}))
	defer deployed.Close()

	var iamCalls atomic.Int32
	iam := fakeIAMCredentials(t, deployed.URL, &iamCalls)
	defer iam.Close()
	fakeURL, _ := url.Parse(iam.URL)
	iamCredentialsOptions = []option.ClientOption{option.WithHTTPClient(&http.Client{Transport: toFake{fake: fakeURL, t: t}})}
	t.Cleanup(func() { iamCredentialsOptions = nil })

	t.Run("flag", func(t *testing.T) {
		t.Setenv(impersonateEnv, "")
		out, code, err := runCLI(t, "runs", "--api", deployed.URL, "--impersonate-service-account", testCLIAccount)
		if err != nil || code != 0 || !strings.Contains(out, "run-impersonated") {
			t.Fatalf("promptml runs: exit %d, %v\n%s", code, err, out)
		}
	})
	t.Run("environment", func(t *testing.T) {
		t.Setenv(impersonateEnv, testCLIAccount)
		t.Setenv(apiEnv, deployed.URL)
		out, code, err := runCLI(t, "runs")
		if err != nil || code != 0 || !strings.Contains(out, "run-impersonated") {
			t.Fatalf("promptml runs: exit %d, %v\n%s", code, err, out)
		}
	})
	if iamCalls.Load() < 2 || apiCalls.Load() < 2 {
		t.Errorf("IAM Credentials calls %d, API calls %d; want a token minted and used by each run", iamCalls.Load(), apiCalls.Load())
	}
}

// Without the token the "deployed" API refuses: the fake API does check it,
// and a failed impersonation says what grant is missing.
func TestCLIImpersonationErrors(t *testing.T) {
	deployed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+mintedIDToken {
			http.Error(w, "The request was not authenticated", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `{"runs": []}`)
	}))
	defer deployed.Close()
	t.Setenv(impersonateEnv, "")

	// Loopback and no impersonation: no token is sent, the API says 401.
	out, code, err := runCLI(t, "runs", "--api", deployed.URL)
	out += fmt.Sprint(err)
	if code == 0 || !strings.Contains(out, "401") {
		t.Errorf("without a token: exit %d\n%s", code, out)
	}

	denied := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"error": {"code": 403, "message": "Permission 'iam.serviceAccounts.getOpenIdToken' denied", "status": "PERMISSION_DENIED"}}`)
	}))
	defer denied.Close()
	u, _ := url.Parse(denied.URL)
	iamCredentialsOptions = []option.ClientOption{option.WithHTTPClient(&http.Client{Transport: toFake{fake: u, t: t}})}
	t.Cleanup(func() { iamCredentialsOptions = nil })
	out, code, err = runCLI(t, "runs", "--api", deployed.URL, "--impersonate-service-account", testCLIAccount)
	out += fmt.Sprint(err)
	if code != exitFailed || !strings.Contains(out, "roles/iam.serviceAccountTokenCreator") || !strings.Contains(out, "getOpenIdToken") {
		t.Errorf("denied impersonation: exit %d, want the missing grant named\n%s", code, out)
	}
}
