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
	"google.golang.org/api/idtoken"
)

// How the CLI finds the API: --api, else $PROMPTML_API, else the local
// cloud's fixed port (`promptml local --serve`).
const (
	apiEnv     = "PROMPTML_API"
	defaultAPI = "http://127.0.0.1:8080"
)

// Exit codes of the commands that talk to the API (main.go lists them all).
const (
	exitFailed      = 1
	exitUsage       = 2
	exitRunEnded    = 3
	exitNotFound    = 4
	exitUnreachable = 5
)

// apiFlag adds --api to cmd, stored in v.
func apiFlag(cmd *cobra.Command, v *string) {
	cmd.Flags().StringVar(v, "api", "", "API base URL (default $"+apiEnv+", else "+defaultAPI+", the local cloud of `promptml local --serve`)")
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
// API's URL, from Application Default Credentials, as Cloud Functions IAM
// requires; the local cloud needs none.
func connect(ctx context.Context, flag string) (*apiClient, error) {
	base, err := apiURL(flag)
	if err != nil {
		return nil, err
	}
	c := newAPIClient(base)
	if isLoopback(base) {
		return c, nil
	}
	hc, err := idtoken.NewClient(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("Google ID token for %s: %w\n"+
			"  Log in with Application Default Credentials (a service account key in GOOGLE_APPLICATION_CREDENTIALS, or user credentials that can mint ID tokens) and hold roles/cloudfunctions.invoker (or run.invoker) on the API", base, err)
	}
	hc.Timeout = 60 * time.Second
	c.http = hc
	return c, nil
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
