package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/promptml/promptml/functions/api/wire"
)

// apiClient talks to the API function (local or deployed).
type apiClient struct {
	base string
	http *http.Client
}

func newAPIClient(base string) *apiClient {
	return &apiClient{base: base, http: &http.Client{Timeout: 60 * time.Second}}
}

// apiError is a non-2xx reply.
type apiError struct {
	Status int
	Msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("API answered %d: %s", e.Status, e.Msg) }

// unreachableError is a request that got no answer at all.
type unreachableError struct {
	base string
	err  error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach the API at %s: %v\n  %s", e.base, e.err, unreachableHint(e.base))
}

// unreachableHint says how to bring up the API the CLI actually called
// (issue 17 item 8: it used to name 127.0.0.1:8080 whatever --api said).
// A loopback URL is a local cloud, started on that URL's port; any other
// host is a deployment the user named.
func unreachableHint(base string) string {
	if isLoopback(base) {
		start := "promptml local --serve"
		if pu, err := url.Parse(base); err == nil && base != defaultAPI {
			port := pu.Port()
			if port == "" {
				port = map[string]string{"http": "80", "https": "443"}[pu.Scheme]
			}
			start += " --port " + port
		}
		return fmt.Sprintf("Start the local cloud with `%s` (API at %s), or point --api (or %s) at your deployment's API URL.", start, base, apiEnv)
	}
	return fmt.Sprintf("Check that %s is your deployment's API URL and that it is up (`terraform output api_url` in terraform/ prints it), "+
		"or point --api (or %s) elsewhere; `promptml local --serve` starts a local cloud at %s.", base, apiEnv, defaultAPI)
}

func (e *unreachableError) Unwrap() error { return e.err }

func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.send(req, method, path, out)
}

// send sends req and decodes a 2xx JSON reply into out.
func (c *apiClient) send(req *http.Request, method, path string, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		if req.Context().Err() != nil {
			return err
		}
		return &unreachableError{base: c.base, err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return &apiError{resp.StatusCode, e.Error}
		}
		return &apiError{resp.StatusCode, string(b)}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: bad reply: %w", method, path, err)
		}
	}
	return nil
}

func (c *apiClient) run(ctx context.Context, id string) (*wire.Run, error) {
	var r wire.Run
	return &r, c.do(ctx, http.MethodGet, "/runs/"+url.PathEscape(id), nil, &r)
}

func (c *apiClient) runs(ctx context.Context) ([]*wire.Run, error) {
	var out struct {
		Runs []*wire.Run `json:"runs"`
	}
	return out.Runs, c.do(ctx, http.MethodGet, "/runs?limit=100", nil, &out)
}

func (c *apiClient) epochs(ctx context.Context, id string) ([]*wire.Epoch, error) {
	var out wire.Epochs
	err := c.do(ctx, http.MethodGet, "/runs/"+url.PathEscape(id)+"/epochs", nil, &out)
	return out.Epochs, err
}

func (c *apiClient) prompts(ctx context.Context, id string) ([]*wire.Prompt, error) {
	var out wire.Prompts
	err := c.do(ctx, http.MethodGet, "/runs/"+url.PathEscape(id)+"/prompts", nil, &out)
	return out.Prompts, err
}

func (c *apiClient) phases(ctx context.Context, id string) ([]*wire.Phase, error) {
	var out wire.Phases
	err := c.do(ctx, http.MethodGet, "/runs/"+url.PathEscape(id)+"/phases", nil, &out)
	return out.Phases, err
}

func (c *apiClient) events(ctx context.Context, id string, after time.Time) ([]*wire.Event, error) {
	q := ""
	if !after.IsZero() {
		q = "?after=" + url.QueryEscape(after.Format(time.RFC3339Nano))
	}
	var out wire.Events
	err := c.do(ctx, http.MethodGet, "/runs/"+url.PathEscape(id)+"/events"+q, nil, &out)
	return out.Events, err
}

// waitReady polls url until it answers (any status) or ctx ends.
func waitReady(ctx context.Context, url string) error {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
