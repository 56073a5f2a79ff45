package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"
	"google.golang.org/api/idtoken"
	"google.golang.org/api/impersonate"
	"google.golang.org/api/option"
)

// How the CLI finds the API: --api, else $PROMPTML_API, else the local
// cloud's fixed port (`promptml local --serve`). A deployed API is called
// with an ID token: impersonated from the service account of
// --impersonate-service-account (else $PROMPTML_IMPERSONATE_SERVICE_ACCOUNT),
// or minted from Application Default Credentials directly.
const (
	apiEnv         = "PROMPTML_API"
	defaultAPI     = "http://127.0.0.1:8080"
	impersonateEnv = "PROMPTML_IMPERSONATE_SERVICE_ACCOUNT"
)

// apiTarget is where the API is and how to authenticate to it: the flags
// of apiFlag.
type apiTarget struct {
	// url is --api.
	url string
	// impersonate is --impersonate-service-account.
	impersonate string
}

// Exit codes of the commands that talk to the API (main.go lists them all).
const (
	exitFailed      = 1
	exitUsage       = 2
	exitRunEnded    = 3
	exitNotFound    = 4
	exitUnreachable = 5
)

// apiFlag adds --api and --impersonate-service-account to cmd, stored in v.
func apiFlag(cmd *cobra.Command, v *apiTarget) {
	cmd.Flags().StringVar(&v.url, "api", "", "API base URL (default $"+apiEnv+", else "+defaultAPI+", the local cloud of `promptml local --serve`)")
	cmd.Flags().StringVar(&v.impersonate, "impersonate-service-account", "",
		"call the API with an ID token of this service account, impersonated with your Application Default Credentials "+
			"(default $"+impersonateEnv+"; you need roles/iam.serviceAccountTokenCreator on it: docs/deploy.md)")
}

// apiURL resolves the API's base URL.
func apiURL(flag string) (string, error) {
	u := flag
	if u == "" {
		u = os.Getenv(apiEnv)
	}
	if u == "" {
		u = defaultAPI
	}
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return "", &exitError{exitUsage, fmt.Errorf("--api %q is not an http(s) URL; use e.g. %s or https://REGION-PROJECT.cloudfunctions.net/API", u, defaultAPI)}
	}
	return strings.TrimSuffix(u, "/"), nil
}

// isLoopback reports whether the URL's host is this machine.
func isLoopback(base string) bool {
	pu, err := url.Parse(base)
	if err != nil {
		return false
	}
	h := pu.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// connect returns a client for the API. A deployed API (any host that is
// not loopback) is called with a Google ID token whose audience is the
// API's URL, as Cloud Run IAM requires; the local cloud needs none.
//
// The token comes from the service account named by
// --impersonate-service-account (or $PROMPTML_IMPERSONATE_SERVICE_ACCOUNT),
// impersonated through the IAM Credentials API with Application Default
// Credentials: this is what works with `gcloud auth application-default
// login`, whose user credentials cannot mint ID tokens themselves. An
// impersonated token is sent to any host, loopback included (a port
// forward to the deployment). Without impersonation the token is minted
// from ADC directly, which needs a service account key or a metadata
// server (a VM, Cloud Shell).
func connect(ctx context.Context, t apiTarget) (*apiClient, error) {
	base, err := apiURL(t.url)
	if err != nil {
		return nil, err
	}
	c := newAPIClient(base)
	sa := t.impersonate
	if sa == "" {
		sa = os.Getenv(impersonateEnv)
	}
	if sa != "" {
		ts, err := impersonate.IDTokenSource(ctx, impersonate.IDTokenConfig{
			TargetPrincipal: sa,
			Audience:        base,
			// Cloud Run IAM identifies the caller by the token's email.
			IncludeEmail: true,
		}, iamCredentialsOptions...)
		if err != nil {
			return nil, fmt.Errorf("ID token impersonating %s for %s: %w\n"+
				"  Log in with `gcloud auth application-default login` and hold roles/iam.serviceAccountTokenCreator on %s (docs/deploy.md)", sa, base, err, sa)
		}
		// The first token now, so a missing grant is reported as such and
		// not as an unreachable API; the source reuses it until it expires.
		src := explainToken{ts, sa}
		if _, err := src.Token(); err != nil {
			return nil, &exitError{exitFailed, fmt.Errorf("ID token impersonating %s for %s: %w", sa, base, err)}
		}
		c.http = &http.Client{Timeout: 60 * time.Second, Transport: &oauth2.Transport{Source: src, Base: http.DefaultTransport}}
		return c, nil
	}
	if isLoopback(base) {
		return c, nil
	}
	hc, err := idtoken.NewClient(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("Google ID token for %s: %w\n"+
			"  With user credentials (`gcloud auth application-default login`) impersonate a service account that may call the API: "+
			"--impersonate-service-account SA (or $%s), see docs/deploy.md. Application Default Credentials of a service account "+
			"(a key in GOOGLE_APPLICATION_CREDENTIALS, a VM or Cloud Shell) mint the token themselves; either way the account needs roles/run.invoker on the API", base, err, impersonateEnv)
	}
	hc.Timeout = 60 * time.Second
	c.http = hc
	return c, nil
}

// iamCredentialsOptions are extra client options of the IAM Credentials
// calls that impersonate the service account. Nil in the CLI (ADC); a test
// sets option.WithHTTPClient to reach a loopback fake, the only seam
// google.golang.org/api/impersonate has: it builds the
// iamcredentials.googleapis.com URL from a constant, so
// option.WithEndpoint does not move it.
var iamCredentialsOptions []option.ClientOption

// explainToken adds what to do to a failed impersonation, which otherwise
// surfaces as a bare transport error on the first request.
type explainToken struct {
	ts oauth2.TokenSource
	sa string
}

func (e explainToken) Token() (*oauth2.Token, error) {
	tok, err := e.ts.Token()
	if err != nil {
		return nil, fmt.Errorf("%w\n  Impersonating %s needs roles/iam.serviceAccountTokenCreator on it for the account of your "+
			"Application Default Credentials (`gcloud auth application-default login`); docs/deploy.md shows the grant", err, e.sa)
	}
	return tok, nil
}

// explain turns an API error into one that says what to do next, with the
// matching exit code. what names the thing asked for (e.g. "run X").
func explain(err error, what string) error {
	if err == nil {
		return nil
	}
	var ue *unreachableError
	if errors.As(err, &ue) {
		return &exitError{exitUnreachable, err}
	}
	var ae *apiError
	if errors.As(err, &ae) {
		switch {
		case ae.Status == http.StatusNotFound && what != "":
			return &exitError{exitNotFound, fmt.Errorf("%s not found (%s)\n  List the runs with `promptml runs`, and prompt versions with `promptml history RUN`", what, ae.Msg)}
		case ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden:
			return &exitError{exitFailed, fmt.Errorf("%w\n  The deployed API needs an ID token of an account with the invoker role on it", err)}
		case ae.Status/100 == 4:
			return &exitError{exitUsage, err}
		}
	}
	return err
}

// usageArgs wraps a cobra args check so a wrong argument count exits 2
// with the usage line.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &exitError{exitUsage, fmt.Errorf("%w\n  Usage: %s (see --help)", err, cmd.UseLine())}
		}
		return nil
	}
}
