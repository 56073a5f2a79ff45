package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/promptml/promptml/shared/localcloud"
	"github.com/promptml/promptml/shared/store"
)

// economyRun is one run of benchmark (4).
type economyRun struct {
	Label     string
	Cache     string
	RunID     string
	Usage     store.Usage
	ByModel   map[string]store.Usage
	Primary   store.Usage // the primary model's share
	Optimizer store.Usage
	FinalVal  float64
}

// economyResult is benchmark (4).
type economyResult struct {
	Sample   string
	Prices   map[string]map[string]float64
	Runs     []economyRun
	Commands []string
}

// Simulated prices: the simulator is free, so its two models are priced
// like the deployment's defaults of 2025 (primary gemini-2.5-flash,
// optimizer gemini-2.5-pro, their list prices then), kept as they were so
// that the benchmark's figures stay comparable from run to run; the
// deployment's defaults are now shared/config/models.yaml's.
var economyPrices = map[string]map[string]float64{
	"sim-primary":   {"input_per_mtok": 0.30, "output_per_mtok": 2.50},
	"sim-optimizer": {"input_per_mtok": 1.25, "output_per_mtok": 10.00},
}

// runEconomy runs benchmark (4): the translation sample on one local cloud
// three times — cache off, then cache on (readwrite) twice; the second
// cached run finds every call of the first in the response cache.
func runEconomy(ctx context.Context, h *harness) (*economyResult, error) {
	const sampleCSV, sampleYAML = "samples/translation-fr.csv", "samples/translation-fr.yaml"
	res := &economyResult{Sample: sampleCSV, Prices: economyPrices}
	dir := filepath.Join(h.work, "economy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// The sample's config with the simulated prices.
	var cfg map[string]any
	b, err := os.ReadFile(sampleYAML)
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", sampleYAML, err)
	}
	cfg["prices"] = economyPrices
	cfgPath := filepath.Join(dir, "translation-fr-priced.yaml")
	if err := writeYAML(cfgPath, cfg); err != nil {
		return nil, err
	}
	port, err := localcloud.FreePort()
	if err != nil {
		return nil, err
	}
	api := "http://127.0.0.1:" + strconv.Itoa(port)
	localArgs := []string{"local", "--serve", "--port", strconv.Itoa(port)}
	res.Commands = append(res.Commands, "bin/promptml "+relArgs(localArgs))
	lc, err := startProc(ctx, "", nil, nil, nil, h.bin, localArgs...)
	if err != nil {
		return nil, err
	}
	defer func() {
		lc.interrupt()
		if _, _, _, err := lc.waitExit(ctx, 30*time.Second); err != nil {
			h.logf("economy: local cloud: %v", err)
		}
	}()
	if _, err := lc.waitLine(ctx, "Local cloud up", 2*time.Minute); err != nil {
		return nil, err
	}
	for i, c := range []struct{ label, cache string }{
		{"cache off", "off"},
		{"cache on, first run (fills the cache)", "readwrite"},
		{"cache on, rerun", "readwrite"},
	} {
		out := filepath.Join(dir, fmt.Sprintf("run-%d.json", i))
		args := []string{"run", sampleCSV, "--config", cfgPath, "--set", "cache=" + c.cache, "--watch", "--json", out, "--api", api}
		res.Commands = append(res.Commands, "bin/promptml "+relArgs(args))
		h.logf("economy: %s", c.label)
		p, err := startProc(ctx, "", nil, nil, nil, h.bin, args...)
		if err != nil {
			return nil, err
		}
		if _, _, _, err := p.waitExit(ctx, 10*time.Minute); err != nil {
			return nil, err
		}
		var s struct {
			RunID string `json:"run_id"`
			Final struct {
				Val float64 `json:"val"`
			} `json:"final"`
		}
		if err := readJSON(out, &s); err != nil {
			return nil, err
		}
		var run store.Run
		if err := getJSON(ctx, api+"/runs/"+s.RunID, &run); err != nil {
			return nil, err
		}
		r := economyRun{Label: c.label, Cache: c.cache, RunID: s.RunID, Usage: run.Usage, ByModel: run.UsageByModel, FinalVal: s.Final.Val}
		for k, u := range run.UsageByModel {
			switch {
			case strings.HasSuffix(k, "/sim-primary"):
				r.Primary = r.Primary.Add(u)
			case strings.HasSuffix(k, "/sim-optimizer"):
				r.Optimizer = r.Optimizer.Add(u)
			}
		}
		h.logf("economy:   %d calls (primary %d, optimizer %d), %d cache hits, $%.4f", r.Usage.Calls, r.Primary.Calls, r.Optimizer.Calls, r.Usage.CacheHits, r.Usage.CostUSD)
		res.Runs = append(res.Runs, r)
	}
	return res, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
