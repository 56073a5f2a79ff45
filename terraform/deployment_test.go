package terraform

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// These tests cover what a first apply on a fresh project needs (issue 16):
// IAM that matches what the code does, service agents created before they
// are bound, the wait for IAM propagation before the storage trigger, the
// CLI's service account, and API keys that only reach the functions that
// call models.

// grantsOf lists the bindings of role on resources of iamType whose
// references include target.
func grantsOf(t *testing.T, c *config, iamType, role, target string) []*hclsyntax.Block {
	t.Helper()
	ctx := c.evalContext()
	var out []*hclsyntax.Block
	for _, name := range sortedKeys(c.resources[iamType]) {
		b := c.resources[iamType][name]
		if stringValue(t, ctx, attr(b, "role"), iamType+"."+name+".role") == role && refs(b)[target] {
			out = append(out, b)
		}
	}
	return out
}

// POST /runs with a file writes the CSV and its sidecar to the datasets
// bucket (shared/pipeline/upload.go): the API's account may create objects
// there, and only the API's.
func TestAPICanWriteUploads(t *testing.T) {
	c := loadConfig(t)
	var writers []string
	for _, role := range []string{"roles/storage.objectCreator", "roles/storage.objectUser", "roles/storage.objectAdmin", "roles/storage.admin"} {
		for _, b := range grantsOf(t, c, "google_storage_bucket_iam_member", role, "google_storage_bucket.datasets") {
			writers = append(writers, role+" "+strings.TrimPrefix(ref(attr(b, "member")), "local.function_members."))
		}
	}
	if !slices.Equal(writers, []string{"roles/storage.objectCreator api"}) {
		t.Errorf("writers of the datasets bucket: %v, want only objectCreator for the API (uploads get new names; nothing is overwritten)", writers)
	}
}

// Service agents are referenced through google_project_service_identity,
// which creates them, never by a hand-built e-mail that may not exist yet.
func TestServiceAgentsAreCreatedBeforeBound(t *testing.T) {
	c := loadConfig(t)
	handBuilt := regexp.MustCompile(`gcp-sa-[a-z]+\.iam\.gserviceaccount\.com`)
	for _, name := range sortedKeys(c.src) {
		if loc := handBuilt.FindIndex(c.src[name]); loc != nil {
			line := strings.Count(string(c.src[name][:loc[0]]), "\n") + 1
			t.Errorf("%s:%d: hand-built service agent e-mail; use google_project_service_identity", name, line)
		}
	}
	ids := c.resources["google_project_service_identity"]
	ctx := c.evalContext()
	services := map[string]string{}
	for _, name := range sortedKeys(ids) {
		b := ids[name]
		services[stringValue(t, ctx, attr(b, "service"), name+".service")] = name
		if ref(attr(b, "provider")) != "google-beta" {
			t.Errorf("google_project_service_identity.%s: the resource exists in google-beta only; set provider = google-beta", name)
		}
	}
	for _, svc := range []string{"pubsub.googleapis.com", "eventarc.googleapis.com"} {
		if services[svc] == "" {
			t.Errorf("no google_project_service_identity for %s", svc)
		}
	}
	for local, svc := range map[string]string{"pubsub_agent": "pubsub.googleapis.com", "eventarc_agent": "eventarc.googleapis.com"} {
		expr, ok := c.locals[local]
		if !ok {
			t.Errorf("local.%s is not declared", local)
			continue
		}
		if !refs(&hclsyntax.Block{Body: &hclsyntax.Body{Attributes: hclsyntax.Attributes{"v": {Name: "v", Expr: expr}}}})["google_project_service_identity."+services[svc]] {
			t.Errorf("local.%s does not come from google_project_service_identity.%s", local, services[svc])
		}
	}
}

// The storage trigger is created after the Eventarc agent has its role and
// a wait for IAM propagation (terraform-provider-google issues 14584 and
// 25294).
func TestUploadTriggerWaitsForIAMPropagation(t *testing.T) {
	c := loadConfig(t)
	agent := grantsOf(t, c, "google_project_iam_member", "roles/eventarc.serviceAgent", "local.eventarc_agent")
	if len(agent) != 1 {
		t.Fatalf("%d grants of roles/eventarc.serviceAgent to local.eventarc_agent, want 1", len(agent))
	}
	sleeps := c.resources["time_sleep"]
	if len(sleeps) != 1 {
		t.Fatalf("%d time_sleep resources, want 1", len(sleeps))
	}
	var sleepName string
	var sleep *hclsyntax.Block
	for n, b := range sleeps {
		sleepName, sleep = n, b
	}
	if attr(sleep, "create_duration") == nil {
		t.Error("time_sleep has no create_duration")
	}
	deps := dependsOn(sleep)
	for _, want := range []string{
		"google_project_iam_member." + agent[0].Labels[1],
		"google_project_iam_member.gcs_pubsub_publisher",
		"google_project_iam_member.trigger_event_receiver",
	} {
		if !deps[want] {
			t.Errorf("time_sleep.%s does not wait for %s", sleepName, want)
		}
	}
	for _, name := range sortedKeys(c.functions(t)) {
		fn := c.functions(t)[name]
		if nested(fn, "event_trigger") != nil && !dependsOn(fn)["time_sleep."+sleepName] {
			t.Errorf("%s has an Eventarc trigger but does not depend on time_sleep.%s", name, sleepName)
		}
	}
}

// dependsOn lists the depends_on entries of a block.
func dependsOn(b *hclsyntax.Block) map[string]bool {
	out := map[string]bool{}
	a, ok := b.Body.Attributes["depends_on"]
	if !ok {
		return out
	}
	tup, ok := a.Expr.(*hclsyntax.TupleConsExpr)
	if !ok {
		return out
	}
	for _, e := range tup.Exprs {
		out[ref(e)] = true
	}
	return out
}

// API keys reach RunBatch and Aggregate (the functions calling models) as
// secret environment variables from Secret Manager, each readable by those
// two accounts only; no key is a plain environment variable.
func TestOpenAIKeysComeFromSecretManager(t *testing.T) {
	c := loadConfig(t)
	fns := c.functions(t)
	var withSecrets []string
	for _, name := range sortedKeys(fns) {
		sc := nested(fns[name], "service_config")
		for _, b := range sc.Body.Blocks {
			if b.Type == "dynamic" && b.Labels[0] == "secret_environment_variables" {
				withSecrets = append(withSecrets, name)
				if ref(attr(b, "for_each")) != "local.openai_key_secrets" {
					t.Errorf("%s: secret_environment_variables iterate %q, want local.openai_key_secrets", name, ref(attr(b, "for_each")))
				}
			}
		}
	}
	if !slices.Equal(withSecrets, []string{"aggregate", "run_batch"}) {
		t.Errorf("functions with API key secrets: %v, want aggregate and run_batch", withSecrets)
	}
	readers := c.resources["google_secret_manager_secret_iam_member"]
	if len(readers) != 1 {
		t.Fatalf("%d google_secret_manager_secret_iam_member resources, want 1", len(readers))
	}
	for _, b := range readers {
		src := string(c.srcOf(b))
		if !strings.Contains(src, `"run_batch", "aggregate"`) || !strings.Contains(src, "roles/secretmanager.secretAccessor") {
			t.Errorf("secret readers must be RunBatch and Aggregate only, with secretAccessor:\n%s", src)
		}
	}
	// Plain environment variables carry the endpoint list, never a key.
	env := c.locals["function_env"].(*hclsyntax.ObjectConsExpr)
	for _, item := range env.Items {
		if k := hcl.ExprAsKeyword(item.KeyExpr); strings.Contains(strings.ToUpper(k), "KEY") && !strings.HasSuffix(k, "_ENDPOINTS") {
			t.Errorf("local.function_env has %s: API keys come from Secret Manager only", k)
		}
	}
}

// The CLI's account may invoke the API and nothing else, and the users
// that may impersonate it are a variable that refuses public principals.
func TestCLIServiceAccount(t *testing.T) {
	c := loadConfig(t)
	if c.resources["google_service_account"]["cli"] == nil {
		t.Fatal("no google_service_account.cli")
	}
	var roles []string
	for typ, rs := range c.resources {
		if !strings.Contains(typ, "_iam_") {
			continue
		}
		for _, name := range sortedKeys(rs) {
			b := rs[name]
			if strings.Contains(ref(attr(b, "member")), "google_service_account.cli") || isServiceAccountMemberOf(attr(b, "member"), "cli") {
				roles = append(roles, typ+" "+stringValue(t, c.evalContext(), attr(b, "role"), name+".role")+" "+ref(attr(b, "name")))
			}
		}
	}
	want := []string{"google_cloud_run_v2_service_iam_member roles/run.invoker google_cloudfunctions2_function.api.name"}
	if !slices.Equal(roles, want) {
		t.Errorf("grants to the CLI account: %v, want %v", roles, want)
	}
	tc := grantsOf(t, c, "google_service_account_iam_member", "roles/iam.serviceAccountTokenCreator", "google_service_account.cli")
	if len(tc) != 1 || !strings.Contains(string(c.srcOf(tc[0])), "var.cli_users") {
		t.Errorf("token creator on the CLI account must be granted to var.cli_users (found %d grants)", len(tc))
	}
	cond := attr(nested(c.variables["cli_users"], "validation"), "condition")
	for _, tt := range []struct {
		members []string
		ok      bool
	}{
		{[]string{"user:alice@example.com"}, true},
		{[]string{"allUsers"}, false},
		{[]string{"alice@example.com"}, false},
	} {
		if got := evalListCondition(t, cond, "cli_users", tt.members); got != tt.ok {
			t.Errorf("cli_users validation(%v) = %v, want %v", tt.members, got, tt.ok)
		}
	}
}

// isServiceAccountMemberOf reports whether expr is
// "serviceAccount:${google_service_account.<name>.email}".
func isServiceAccountMemberOf(expr hclsyntax.Expression, name string) bool {
	te, ok := expr.(*hclsyntax.TemplateExpr)
	return ok && len(te.Parts) == 2 && isServiceAccountMember(expr) && ref(te.Parts[1]) == "google_service_account."+name+".email"
}

func TestAllowedProvidersValidation(t *testing.T) {
	c := loadConfig(t)
	cond := attr(nested(c.variables["allowed_llm_providers"], "validation"), "condition")
	for _, tt := range []struct {
		providers []string
		ok        bool
	}{
		{[]string{"vertex"}, true},
		{[]string{"vertex", "openai"}, true},
		{[]string{"sim"}, false},
		{[]string{}, false},
		{[]string{"anthropic"}, false},
	} {
		if got := evalListCondition(t, cond, "allowed_llm_providers", tt.providers); got != tt.ok {
			t.Errorf("allowed_llm_providers validation(%v) = %v, want %v", tt.providers, got, tt.ok)
		}
	}
}

// evalListCondition evaluates a validation condition over a list(string)
// variable, with the functions these conditions use.
func evalListCondition(t *testing.T, cond hclsyntax.Expression, name string, values []string) bool {
	t.Helper()
	alltrue := function.New(&function.Spec{
		Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			for it := args[0].ElementIterator(); it.Next(); {
				if _, e := it.Element(); e.False() {
					return cty.False, nil
				}
			}
			return cty.True, nil
		},
	})
	contains := function.New(&function.Spec{
		Params: []function.Parameter{{Name: "list", Type: cty.List(cty.String)}, {Name: "v", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			for it := args[0].ElementIterator(); it.Next(); {
				if _, e := it.Element(); e.Equals(args[1]).True() {
					return cty.True, nil
				}
			}
			return cty.False, nil
		},
	})
	funcs := map[string]function.Function{"alltrue": alltrue, "can": tryfunc.CanFunc, "regex": stdlib.RegexFunc,
		"contains": contains, "length": stdlib.LengthFunc}
	list := cty.ListValEmpty(cty.String)
	if len(values) > 0 {
		vals := make([]cty.Value, len(values))
		for i, v := range values {
			vals[i] = cty.StringVal(v)
		}
		list = cty.ListVal(vals)
	}
	got, diags := cond.Value(&hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{name: list})},
		Functions: funcs,
	})
	if diags.HasErrors() {
		t.Fatalf("condition of %s: %s", name, diags.Error())
	}
	return got.True()
}

// `make deploy` runs with the environment's metadata server (a VM's or
// Cloud Shell's credentials); only the local and test targets point
// GCE_METADATA_HOST at a dead address. The recipes are run through a SHELL
// that prints the variable instead of running anything.
func TestMakeDeployKeepsMetadataServer(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	sh := filepath.Join(t.TempDir(), "sh")
	if err := os.WriteFile(sh, []byte("#!/bin/sh\necho \"GCE_METADATA_HOST=[$GCE_METADATA_HOST]\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]string{
		"deploy":     "GCE_METADATA_HOST=[]",
		"run":        "GCE_METADATA_HOST=[127.0.0.1:1]",
		"test-short": "GCE_METADATA_HOST=[127.0.0.1:1]",
	} {
		cmd := exec.Command("make", "-s", "-C", moduleRoot, target, "PROJECT=p", "SHELL="+sh)
		cmd.Env = append(os.Environ(), "GCE_METADATA_HOST=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make %s: %v\n%s", target, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if got := lines[len(lines)-1]; got != want {
			t.Errorf("make %s: its recipe sees %s, want %s", target, got, want)
		}
	}
}
