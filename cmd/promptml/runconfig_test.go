package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/config"
)

// writeFile writes content to dir/name and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigErrorsNameWhatWasTyped checks a bad config is refused before
// anything is uploaded or started (issue 17 item 6), with an error that
// names the file or the flag the user typed and the key they likely meant
// (item 5), for `run` and `local` alike.
func TestConfigErrorsNameWhatWasTyped(t *testing.T) {
	t.Setenv(apiEnv, "")
	srv, _, last := fakeAPI(t)
	dir := t.TempDir()
	csv, err := os.ReadFile("../../samples/sentiment.csv")
	if err != nil {
		t.Fatal(err)
	}
	dates := writeFile(t, dir, "dates.csv", string(csv))
	writeFile(t, dir, "dates.yaml", "epochs: 1\n") // the sidecar local would pick without --config
	typo := writeFile(t, dir, "typo.yaml", "epoch: 3\n")
	good := writeFile(t, dir, "good.yaml", "epochs: 2\noptimizer:\n  strategy: rewrite\n")
	tooMany := writeFile(t, dir, "many.yaml", "epochs: 500\n")
	otherDir := t.TempDir()
	implicitCSV := writeFile(t, otherDir, "own.csv", string(csv))
	implicitYAML := writeFile(t, otherDir, "own.yaml", "split:\n  vall: 0.3\n")

	tests := []struct {
		name    string
		args    []string
		says    []string
		notSays []string
	}{
		{"run: typo in the file", []string{"run", dates, "--config", typo, "--api", srv.URL},
			[]string{"--config " + typo + ": epoch: unknown key", "did you mean `epochs`?", "nothing was uploaded"}, []string{"uploads/", "dates.yaml"}},
		{"local: typo in --config, another sidecar next to the CSV", []string{"local", "--data", dates, "--config", typo},
			[]string{typo + ": epoch: unknown key", "did you mean `epochs`?"}, []string{"dates.yaml"}},
		{"local: typo in the sidecar next to the CSV", []string{"local", "--data", implicitCSV},
			[]string{implicitYAML + ": split.vall: unknown key", "did you mean `val`?"}, []string{"--config"}},
		{"run: unknown key in --set", []string{"run", dates, "--config", good, "--set", "optimizer.stratgy=edit", "--api", srv.URL},
			[]string{"--set optimizer.stratgy=edit: optimizer.stratgy: unknown key", "did you mean `strategy`?"}, []string{good}},
		{"run: bad value in --set is the flag's, not the file's", []string{"run", dates, "--config", good, "--set", "optimizer.strategy=edt", "--api", srv.URL},
			[]string{`--set optimizer.strategy=edt: optimizer.strategy: must be one of`}, []string{good}},
		{"local: bad value in --set", []string{"local", "--data", dates, "--config", good, "--set", "optimizer.strategy=edt"},
			[]string{`--set optimizer.strategy=edt: optimizer.strategy: must be one of`}, []string{good}},
		{"run: bad --epochs", []string{"run", dates, "--epochs", "500", "--api", srv.URL},
			[]string{"--epochs 500: epochs: must be between 0 and 100"}, nil},
		{"local: bad --epochs over a good file", []string{"local", "--data", dates, "--config", good, "--epochs", "500"},
			[]string{"--epochs 500: epochs: must be between 0 and 100"}, []string{good}},
		{"run: bad value in the file", []string{"run", dates, "--config", tooMany, "--api", srv.URL},
			[]string{"--config " + tooMany + ": epochs: must be between 0 and 100"}, nil},
		{"run: the --set that fixes the file wins", []string{"run", dates, "--config", tooMany, "--set", "split.train=0.9", "--api", srv.URL},
			[]string{"--set split.train=0.9: split: train + val + test must be 1", "--config " + tooMany + ": epochs"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			*last = http.Request{}
			_, code, err := runCLI(t, tc.args...)
			if err == nil {
				t.Fatalf("promptml %v succeeded", tc.args)
			}
			if code != exitUsage {
				t.Errorf("exit code %d, want %d (%v)", code, exitUsage, err)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not say %q:\n%v", s, err)
				}
			}
			for _, s := range tc.notSays {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error says %q:\n%v", s, err)
				}
			}
			if last.Method != "" {
				t.Errorf("the CLI sent %s %s before refusing the config", last.Method, last.URL)
			}
		})
	}
}

// TestLocalSidecarOverrides checks `local --set/--epochs` mean what they
// mean for `run` (issue 17 item 9): the config local uploads loads to the
// same run config as the one run sends, overrides over the file.
func TestLocalSidecarOverrides(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "d.csv", "user_input,ground_truth_output\na,b\n")
	file := writeFile(t, dir, "d.yaml", "# a comment\nepochs: 2\noptimizer:\n  strategy: rewrite\n  history: 3\n")
	tests := []struct {
		name string
		cfg  configFlags
		// want is the config as one YAML document over the defaults.
		want string
	}{
		{"file alone goes up as it is", configFlags{file: file}, "epochs: 2\noptimizer: {strategy: rewrite, history: 3}\n"},
		{"--epochs over the file", configFlags{file: file, epochs: 5}, "epochs: 5\noptimizer: {strategy: rewrite, history: 3}\n"},
		{"--set over the file keeps its siblings", configFlags{file: file, set: []string{"optimizer.strategy=edit"}}, "epochs: 2\noptimizer: {strategy: edit, history: 3}\n"},
		{"--epochs after --set", configFlags{file: file, set: []string{"epochs=3"}, epochs: 4}, "epochs: 4\noptimizer: {strategy: rewrite, history: 3}\n"},
		{"no file", configFlags{set: []string{"gate.min_delta=0.05"}}, "gate: {min_delta: 0.05}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := localOptions{data: filepath.Join(t.TempDir(), "elsewhere.csv"), cfg: tc.cfg}
			sidecar, shown, err := localSidecar(o)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(shown, tc.cfg.String()) {
				t.Errorf("local names the config %q, want %q", shown, tc.cfg.String())
			}
			got, err := config.Load(config.Layer{Source: "sidecar", Data: sidecar})
			if err != nil {
				t.Fatalf("the uploaded sidecar does not load: %v\n%s", err, sidecar)
			}
			want, err := config.Load(config.Layer{Source: "want", Data: []byte(tc.want)})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("local's config (-want +got):\n%s", d)
			}
			// run sends the same document.
			sent, err := buildConfig(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			js, _ := json.Marshal(sent)
			viaRun, err := config.Load(config.Layer{Source: "request", Data: js})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(viaRun, got); d != "" {
				t.Errorf("local and run differ (-run +local):\n%s", d)
			}
		})
	}
	t.Run("the CSV's own sidecar is the default", func(t *testing.T) {
		sidecar, shown, err := localSidecar(localOptions{data: data, cfg: configFlags{epochs: 7}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := config.Load(config.Layer{Data: sidecar})
		if err != nil {
			t.Fatal(err)
		}
		if got.Epochs != 7 || got.Optimizer.History != 3 {
			t.Errorf("epochs %d history %d, want 7 from --epochs and 3 from %s", got.Epochs, got.Optimizer.History, file)
		}
		if !strings.HasPrefix(shown, file) {
			t.Errorf("shown as %q, want it to start with %s", shown, file)
		}
	})
}
