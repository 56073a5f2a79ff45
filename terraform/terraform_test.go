// Package terraform holds no Go code: its test parses the deployment in this
// directory with hashicorp/hcl/v2 (Terraform itself cannot be downloaded here)
// and checks it against the code: entry points, runtime, analytics schema,
// least-privilege and delivery rules.
package terraform

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/mod/modfile"

	"github.com/promptml/promptml/shared/analytics"
)

// moduleRoot is the Go module root, relative to this package.
const moduleRoot = ".."

// functionsImport is the Functions Framework package whose HTTP and
// CloudEvent calls register entry points.
const functionsImport = "github.com/GoogleCloudPlatform/functions-framework-go/functions"

// config is the parsed Terraform configuration of one directory.
type config struct {
	src       map[string][]byte
	resources map[string]map[string]*hclsyntax.Block // type -> name -> block
	data      map[string]map[string]*hclsyntax.Block
	variables map[string]*hclsyntax.Block
	locals    map[string]hclsyntax.Expression
	top       []*hclsyntax.Block
}

func loadConfig(t *testing.T) *config {
	t.Helper()
	paths, err := filepath.Glob("*.tf")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no *.tf files in terraform/ (err=%v)", err)
	}
	c := &config{
		src:       map[string][]byte{},
		resources: map[string]map[string]*hclsyntax.Block{},
		data:      map[string]map[string]*hclsyntax.Block{},
		variables: map[string]*hclsyntax.Block{},
		locals:    map[string]hclsyntax.Expression{},
	}
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c.src[p] = src
		f, diags := hclsyntax.ParseConfig(src, p, hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("parse %s: %s", p, diags.Error())
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			c.top = append(c.top, b)
			switch b.Type {
			case "resource", "data":
				m := c.resources
				if b.Type == "data" {
					m = c.data
				}
				if m[b.Labels[0]] == nil {
					m[b.Labels[0]] = map[string]*hclsyntax.Block{}
				}
				if _, dup := m[b.Labels[0]][b.Labels[1]]; dup {
					t.Errorf("%s: duplicate %s %s.%s", p, b.Type, b.Labels[0], b.Labels[1])
				}
				m[b.Labels[0]][b.Labels[1]] = b
			case "variable":
				c.variables[b.Labels[0]] = b
			case "locals":
				for name, a := range b.Body.Attributes {
					c.locals[name] = a.Expr
				}
			}
		}
	}
	return c
}

// evalContext resolves var.* to variable defaults and local.* to the locals
// that evaluate without resources (literals, or locals built from those).
func (c *config) evalContext() *hcl.EvalContext {
	vars := map[string]cty.Value{}
	for name, b := range c.variables {
		if a, ok := b.Body.Attributes["default"]; ok {
			if v, diags := a.Expr.Value(nil); !diags.HasErrors() {
				vars[name] = v
			}
		}
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)}}
	locals := map[string]cty.Value{}
	for changed := true; changed; {
		changed = false
		ctx.Variables["local"] = cty.ObjectVal(locals)
		for name, expr := range c.locals {
			if _, done := locals[name]; done {
				continue
			}
			if v, diags := expr.Value(ctx); !diags.HasErrors() && v.IsWhollyKnown() {
				locals[name] = v
				changed = true
			}
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(locals)
	return ctx
}

// nested returns the first nested block along path, or nil.
func nested(b *hclsyntax.Block, path ...string) *hclsyntax.Block {
	for _, typ := range path {
		var next *hclsyntax.Block
		for _, child := range b.Body.Blocks {
			if child.Type == typ {
				next = child
				break
			}
		}
		if next == nil {
			return nil
		}
		b = next
	}
	return b
}

func attr(b *hclsyntax.Block, name string) hclsyntax.Expression {
	if b == nil {
		return nil
	}
	if a, ok := b.Body.Attributes[name]; ok {
		return a.Expr
	}
	return nil
}

// ref renders a plain reference such as google_service_account.api.email;
// it returns "" for any other expression.
func ref(expr hclsyntax.Expression) string {
	st, ok := expr.(*hclsyntax.ScopeTraversalExpr)
	if !ok {
		return ""
	}
	parts := []string{st.Traversal.RootName()}
	for _, step := range st.Traversal[1:] {
		switch s := step.(type) {
		case hcl.TraverseAttr:
			parts = append(parts, s.Name)
		case hcl.TraverseIndex:
			parts = append(parts, "[]")
		}
	}
	return strings.Join(parts, ".")
}

// traversals lists every reference anywhere in the block, nested blocks
// included. A variable's type constraint (string, object(...)) is not a
// reference and is skipped.
func traversals(b *hclsyntax.Block) []hcl.Traversal {
	var out []hcl.Traversal
	var walk func(body *hclsyntax.Body)
	walk = func(body *hclsyntax.Body) {
		for name, a := range body.Attributes {
			if b.Type == "variable" && body == b.Body && name == "type" {
				continue
			}
			out = append(out, a.Expr.Variables()...)
		}
		for _, child := range body.Blocks {
			walk(child.Body)
		}
	}
	walk(b.Body)
	return out
}

// refs renders traversals as "type.name" (or "var.x", "local.x", "data.type").
func refs(b *hclsyntax.Block) map[string]bool {
	out := map[string]bool{}
	for _, tr := range traversals(b) {
		s := tr.RootName()
		if len(tr) > 1 {
			if ta, ok := tr[1].(hcl.TraverseAttr); ok {
				s += "." + ta.Name
			}
		}
		out[s] = true
	}
	return out
}

func stringValue(t *testing.T, ctx *hcl.EvalContext, expr hclsyntax.Expression, what string) string {
	t.Helper()
	if expr == nil {
		t.Errorf("%s: not set", what)
		return ""
	}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.Type() != cty.String {
		t.Errorf("%s: not a string known without applying (%s)", what, diags.Error())
		return ""
	}
	return v.AsString()
}

func (c *config) functions(t *testing.T) map[string]*hclsyntax.Block {
	t.Helper()
	fns := c.resources["google_cloudfunctions2_function"]
	if len(fns) == 0 {
		t.Fatal("no google_cloudfunctions2_function resources")
	}
	return fns
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestFormatted is `terraform fmt -check`: Terraform formats with hclwrite,
// and additionally unwraps interpolation-only strings, which would show up
// here as a diff of "${x}" → x.
func TestFormatted(t *testing.T) {
	c := loadConfig(t)
	onlyInterp := regexp.MustCompile(`=\s*"\$\{[^{}"]*\}"\s*$`)
	for _, name := range sortedKeys(c.src) {
		src := c.src[name]
		if got := hclwrite.Format(src); !bytes.Equal(got, src) {
			t.Errorf("%s is not formatted; canonical form:\n%s", name, got)
		}
		for i, line := range strings.Split(string(src), "\n") {
			if onlyInterp.MatchString(line) {
				t.Errorf("%s:%d: interpolation-only string (terraform fmt rewrites it): %s", name, i+1, line)
			}
			if strings.Contains(line, "\t") {
				t.Errorf("%s:%d: tab (terraform fmt indents with 2 spaces)", name, i+1)
			}
		}
	}
}

func TestOnlyGoogleProviders(t *testing.T) {
	c := loadConfig(t)
	// hashicorp/time is allowed for time_sleep only: the wait for IAM
	// propagation before the storage trigger (issue 16; iam.tf).
	allowed := map[string]bool{"google": true, "google-beta": true, "time": true}
	found := false
	for _, b := range c.top {
		switch b.Type {
		case "terraform":
			rp := nested(b, "required_providers")
			if rp == nil {
				continue
			}
			found = true
			for name := range rp.Body.Attributes {
				if !allowed[name] {
					t.Errorf("required_providers has %q; only google, google-beta and time are allowed", name)
				}
			}
		case "provider":
			if !allowed[b.Labels[0]] {
				t.Errorf("provider %q; only google and google-beta are configured", b.Labels[0])
			}
		}
	}
	if !found {
		t.Error("no terraform.required_providers block")
	}
	for _, kind := range []map[string]map[string]*hclsyntax.Block{c.resources, c.data} {
		for typ := range kind {
			if !strings.HasPrefix(typ, "google_") && !(typ == "time_sleep" && kind["time_sleep"] != nil && c.data["time_sleep"] == nil) {
				t.Errorf("%s is not from the google provider (nor time_sleep)", typ)
			}
		}
	}
}

// registeredFunctions finds the entry points the Go code registers: calls to
// functions.HTTP / functions.CloudEvent of the Functions Framework with a
// string-literal name, in non-test files under dir. It maps name -> file.
func registeredFunctions(dir string) (map[string]string, error) {
	found := map[string]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		local := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == functionsImport {
				local = "functions"
				if imp.Name != nil {
					local = imp.Name.Name
				}
			}
		}
		if local == "" || local == "_" || local == "." {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "HTTP" && sel.Sel.Name != "CloudEvent") {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); !ok || x.Name != local {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if name, err := strconv.Unquote(lit.Value); err == nil {
				found[name] = path
			}
			return true
		})
		return nil
	})
	return found, err
}

func TestRegisteredFunctionsParser(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  map[string]string
	}{
		{
			name: "default import name",
			files: map[string]string{"a/a.go": `package a
import "github.com/GoogleCloudPlatform/functions-framework-go/functions"
func init() { functions.HTTP("API", nil) }`},
			want: map[string]string{"API": "a/a.go"},
		},
		{
			name: "aliased import and cloud events",
			files: map[string]string{"b/b.go": `package b
import ff "github.com/GoogleCloudPlatform/functions-framework-go/functions"
func init() {
	ff.CloudEvent("RunBatch", nil)
	ff.CloudEvent(` + "`Aggregate`" + `, nil)
}`},
			want: map[string]string{"RunBatch": "b/b.go", "Aggregate": "b/b.go"},
		},
		{
			name: "ignored: other packages, non-literal names, test files",
			files: map[string]string{
				"c/c.go": `package c
import (
	"net/http"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
)
const name = "Dynamic"
type other struct{}
func (other) HTTP(string, any) {}
func init() {
	var functions2 other
	functions2.HTTP("NotMe", nil)
	functions.HTTP(name, nil)
	http.Handle("/x", nil)
}`,
				"c/c_test.go": `package c
import "github.com/GoogleCloudPlatform/functions-framework-go/functions"
func init() { functions.HTTP("OnlyInTests", nil) }`,
				"d/d.go": `package d
import functions "example.com/not/the/framework"
func init() { functions.HTTP("Impostor", nil) }`,
			},
			want: map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, src := range tt.files {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := registeredFunctions(dir)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range got {
				rel, _ := filepath.Rel(dir, v)
				got[k] = filepath.ToSlash(rel)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("registered functions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEntryPointsAreRegistered(t *testing.T) {
	c := loadConfig(t)
	ctx := c.evalContext()
	dir := filepath.Join(moduleRoot, "functions")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("no function sources: %v; every entry_point in terraform/ must be registered by code under functions/", err)
	}
	registered, err := registeredFunctions(dir)
	if err != nil {
		t.Fatalf("reading the function sources in %s: %v", dir, err)
	}
	if len(registered) == 0 {
		t.Fatalf("no functions.HTTP/functions.CloudEvent registrations with a string-literal name found under %s: "+
			"every entry_point in terraform/ must be registered by the code", dir)
	}
	deployed := map[string]bool{}
	for _, name := range sortedKeys(c.functions(t)) {
		fn := c.functions(t)[name]
		ep := stringValue(t, ctx, attr(nested(fn, "build_config"), "entry_point"), name+".build_config.entry_point")
		if ep == "" {
			continue
		}
		if deployed[ep] {
			t.Errorf("entry point %s is deployed twice", ep)
		}
		deployed[ep] = true
		if _, ok := registered[ep]; !ok {
			t.Errorf("%s: entry_point %q is not registered under functions/ (registered: %v)", name, ep, sortedKeys(registered))
		}
	}
	for _, ep := range sortedKeys(registered) {
		if !deployed[ep] {
			t.Errorf("%s registers %q but terraform/ deploys no function with that entry_point", registered[ep], ep)
		}
	}
}

func TestRuntimeMatchesGoMod(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(moduleRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if mf.Go == nil {
		t.Fatal("go.mod has no go directive")
	}
	parts := strings.SplitN(mf.Go.Version, ".", 3)
	if len(parts) < 2 {
		t.Fatalf("go directive %q: want major.minor", mf.Go.Version)
	}
	want := "go" + parts[0] + parts[1]

	c := loadConfig(t)
	ctx := c.evalContext()
	for _, name := range sortedKeys(c.functions(t)) {
		fn := c.functions(t)[name]
		got := stringValue(t, ctx, attr(nested(fn, "build_config"), "runtime"), name+".build_config.runtime")
		if got != want {
			t.Errorf("%s: runtime %q, want %q (go.mod says go %s)", name, got, want, mf.Go.Version)
		}
	}
}

var saEmail = regexp.MustCompile(`^google_service_account\.(\w+)\.email$`)

func TestEachFunctionHasItsOwnServiceAccount(t *testing.T) {
	c := loadConfig(t)
	accounts := c.resources["google_service_account"]
	owner := map[string]string{} // service account -> function
	fns := c.functions(t)
	for _, name := range sortedKeys(fns) {
		fn := fns[name]
		r := ref(attr(nested(fn, "service_config"), "service_account_email"))
		m := saEmail.FindStringSubmatch(r)
		if m == nil {
			t.Errorf("%s: service_config.service_account_email must be google_service_account.<name>.email, got %q", name, r)
			continue
		}
		if accounts[m[1]] == nil {
			t.Errorf("%s: service account %s is not declared", name, m[1])
		}
		if other, taken := owner[m[1]]; taken {
			t.Errorf("%s and %s share service account %s", other, name, m[1])
		}
		owner[m[1]] = name
	}
	for _, name := range sortedKeys(fns) {
		fn := fns[name]
		build := ref(attr(nested(fn, "build_config"), "service_account"))
		if !strings.HasPrefix(build, "google_service_account.") {
			t.Errorf("%s: build_config.service_account must be a dedicated build account, got %q", name, build)
		} else if f, ok := owner[strings.Split(build, ".")[1]]; ok {
			t.Errorf("%s builds as %s, the runtime account of %s", name, build, f)
		}
		if et := nested(fn, "event_trigger"); et != nil {
			m := saEmail.FindStringSubmatch(ref(attr(et, "service_account_email")))
			if m == nil {
				t.Errorf("%s: event_trigger.service_account_email must be a dedicated trigger account", name)
			} else if f, ok := owner[m[1]]; ok {
				t.Errorf("%s: the trigger runs as %s, the runtime account of %s", name, m[1], f)
			}
		}
	}
}

func TestNoPublicPrincipals(t *testing.T) {
	c := loadConfig(t)
	for _, name := range sortedKeys(c.src) {
		lower := strings.ToLower(string(c.src[name]))
		for _, p := range []string{"allusers", "allauthenticatedusers"} {
			if i := strings.Index(lower, p); i >= 0 {
				line := strings.Count(lower[:i], "\n") + 1
				t.Errorf("%s:%d: public principal %s", name, line, p)
			}
		}
	}
}

func TestTopicsHaveDeadLetterPolicies(t *testing.T) {
	c := loadConfig(t)
	ctx := c.evalContext()
	topics := c.resources["google_pubsub_topic"]
	byName := map[string]string{} // topic name -> resource name
	for _, res := range sortedKeys(topics) {
		byName[stringValue(t, ctx, attr(topics[res], "name"), "google_pubsub_topic."+res+".name")] = res
	}
	subsOf := func(topicRes string) []string {
		var out []string
		subs := c.resources["google_pubsub_subscription"]
		for _, s := range sortedKeys(subs) {
			r := ref(attr(subs[s], "topic"))
			if r == "google_pubsub_topic."+topicRes+".id" || r == "google_pubsub_topic."+topicRes+".name" {
				out = append(out, s)
			}
		}
		return out
	}
	grants := func(t *testing.T, iamType, role, target string) bool {
		t.Helper()
		for _, b := range c.resources[iamType] {
			r := refs(b)
			if v := stringValue(t, ctx, attr(b, "role"), iamType+".role"); v == role && r[target] && r["local.pubsub_agent"] {
				return true
			}
		}
		return false
	}

	for _, topicName := range []string{"promptml-batches", "promptml-phase-done"} {
		t.Run(topicName, func(t *testing.T) {
			res, ok := byName[topicName]
			if !ok {
				t.Fatalf("no google_pubsub_topic named %s", topicName)
			}
			subs := subsOf(res)
			if len(subs) == 0 {
				t.Fatalf("topic %s has no subscription", topicName)
			}
			for _, s := range subs {
				sub := c.resources["google_pubsub_subscription"][s]
				dlp := nested(sub, "dead_letter_policy")
				if dlp == nil {
					t.Errorf("subscription %s has no dead_letter_policy", s)
					continue
				}
				if attr(dlp, "max_delivery_attempts") == nil {
					t.Errorf("subscription %s: dead_letter_policy.max_delivery_attempts not set", s)
				}
				dl := strings.TrimSuffix(strings.TrimPrefix(ref(attr(dlp, "dead_letter_topic")), "google_pubsub_topic."), ".id")
				if topics[dl] == nil || dl == res {
					t.Errorf("subscription %s: dead_letter_topic must be google_pubsub_topic.<another topic>.id", s)
					continue
				}
				if len(subsOf(dl)) == 0 {
					t.Errorf("dead-letter topic %s has no subscription: its messages would be lost", dl)
				}
				if !grants(t, "google_pubsub_topic_iam_member", "roles/pubsub.publisher", "google_pubsub_topic."+dl) {
					t.Errorf("the Pub/Sub service agent cannot publish to dead-letter topic %s", dl)
				}
				if !grants(t, "google_pubsub_subscription_iam_member", "roles/pubsub.subscriber", "google_pubsub_subscription."+s) {
					t.Errorf("the Pub/Sub service agent cannot acknowledge on subscription %s", s)
				}
				if nested(sub, "retry_policy") == nil {
					t.Errorf("subscription %s has no retry_policy (backoff)", s)
				}
				if nested(sub, "push_config", "oidc_token") == nil {
					t.Errorf("subscription %s does not push with an OIDC token", s)
				}
			}
		})
	}
}

func TestPushSubscriptionsMatchTheirFunctions(t *testing.T) {
	c := loadConfig(t)
	subs := c.resources["google_pubsub_subscription"]
	fns := c.functions(t)
	pushes := 0
	for _, s := range sortedKeys(subs) {
		sub := subs[s]
		if nested(sub, "push_config") == nil {
			continue // a pull subscription
		}
		pushes++
		// Issue 16: the endpoint is the function's URL followed by the
		// topic path (the Functions Framework reads the topic from it and
		// otherwise prints a WARNING to stdout per delivery), so it is
		// "${<fn uri>}/${<the subscription's topic>.id}"; it was the bare
		// URL before.
		endpoint, topicPath := pushEndpoint(attr(nested(sub, "push_config"), "push_endpoint"))
		m := regexp.MustCompile(`^google_cloudfunctions2_function\.(\w+)\.service_config\.\[\]\.uri$`).FindStringSubmatch(endpoint)
		if m == nil || fns[m[1]] == nil {
			t.Errorf("subscription %s pushes to %q, want \"${google_cloudfunctions2_function.<fn>.service_config[0].uri}/${<topic>.id}\"", s, endpoint)
			continue
		}
		if want := ref(attr(sub, "topic")); topicPath != want || !strings.HasSuffix(want, ".id") {
			t.Errorf("subscription %s: push path is %q, want its own topic's id %q (projects/P/topics/T)", s, topicPath, want)
		}
		// With a path in the endpoint the OIDC audience must be set: by
		// default it is the whole endpoint, which Cloud Run rejects.
		if got := ref(attr(nested(sub, "push_config", "oidc_token"), "audience")); got != endpoint {
			t.Errorf("subscription %s: oidc_token.audience is %q, want the function URL %q", s, got, endpoint)
		}
		fn := fns[m[1]]
		// The ack deadline of a push subscription is its request timeout.
		if got, want := ref(attr(sub, "ack_deadline_seconds")), ref(attr(nested(fn, "service_config"), "timeout_seconds")); got == "" || got != want {
			t.Errorf("subscription %s: ack_deadline_seconds is %q, want the function timeout %q", s, got, want)
		}
		invoker := ref(attr(nested(sub, "push_config", "oidc_token"), "service_account_email"))
		granted := false
		for _, b := range c.resources["google_cloud_run_v2_service_iam_member"] {
			r := refs(b)
			if r["google_cloudfunctions2_function."+m[1]] && r[strings.TrimSuffix(invoker, ".email")] {
				granted = true
			}
		}
		if !granted {
			t.Errorf("subscription %s: %s has no run.invoker binding on function %s", s, invoker, m[1])
		}
		if fns[m[1]] != nil && nested(fn, "event_trigger") != nil {
			t.Errorf("function %s has both an event_trigger and a push subscription", m[1])
		}
	}
	if pushes != 2 {
		t.Errorf("%d push subscriptions, want 2 (RunBatch and Aggregate)", pushes)
	}
}

func TestUploadTrigger(t *testing.T) {
	c := loadConfig(t)
	ctx := c.evalContext()
	var triggered []string
	for _, name := range sortedKeys(c.functions(t)) {
		et := nested(c.functions(t)[name], "event_trigger")
		if et == nil {
			continue
		}
		triggered = append(triggered, name)
		if got := stringValue(t, ctx, attr(et, "event_type"), name+".event_trigger.event_type"); got != "google.cloud.storage.object.v1.finalized" {
			t.Errorf("%s: event_type %q", name, got)
		}
		f := nested(et, "event_filters")
		if stringValue(t, ctx, attr(f, "attribute"), name+".event_filters.attribute") != "bucket" ||
			ref(attr(f, "value")) != "google_storage_bucket.datasets.name" {
			t.Errorf("%s: the trigger must filter on bucket = google_storage_bucket.datasets.name", name)
		}
	}
	if diff := cmp.Diff([]string{"on_dataset_upload"}, triggered); diff != "" {
		t.Errorf("functions with an Eventarc trigger (-want +got):\n%s", diff)
	}
}

func TestFunctionsShareSourceAndEnvironment(t *testing.T) {
	c := loadConfig(t)
	wantEnv := []string{
		"PROMPTML_ALLOWED_PROVIDERS", // issue 16: the operator's allowlist
		"PROMPTML_ARTIFACTS_BUCKET", "PROMPTML_BATCHES_TOPIC", "PROMPTML_BATCH_TIMEOUT", "PROMPTML_BIGQUERY_DATASET",
		"PROMPTML_DATASETS_BUCKET",
		"PROMPTML_EMBEDDING_LOCATION", // issue 16: Gemini on global, embeddings in a region
		"PROMPTML_FIRESTORE_DATABASE",
		"PROMPTML_FIRESTORE_RETENTION", // issue 16: TTL of events and uploads
		"PROMPTML_LLM_PROVIDER",
		"PROMPTML_LOCATION",
		"PROMPTML_OPENAI_ENDPOINTS", // issue 16: the operator's allowlist
		"PROMPTML_PHASE_DONE_TOPIC", "PROMPTML_PROJECT",
	}
	env, ok := c.locals["function_env"].(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatal("local.function_env must be an object of environment variables")
	}
	var got []string
	for _, item := range env.Items {
		got = append(got, hcl.ExprAsKeyword(item.KeyExpr))
	}
	sort.Strings(got)
	if diff := cmp.Diff(wantEnv, got); diff != "" {
		t.Errorf("local.function_env keys (-want +got):\n%s", diff)
	}
	objects := map[string]bool{}
	for _, name := range sortedKeys(c.functions(t)) {
		fn := c.functions(t)[name]
		objects[ref(attr(nested(fn, "build_config", "source", "storage_source"), "object"))] = true
		if r := ref(attr(nested(fn, "service_config"), "environment_variables")); r != "local.function_env" {
			t.Errorf("%s: environment_variables = %q, want local.function_env", name, r)
		}
	}
	if len(objects) != 1 || objects["google_storage_bucket_object.source.name"] != true {
		t.Errorf("functions build from %v, want the one google_storage_bucket_object.source.name", sortedKeys(objects))
	}
}

// column is what must agree between Go and Terraform. Go infers plain fields
// as REQUIRED; the tables declare them NULLABLE so that a column can be added
// without rewriting history, so only repetition is compared, not nullability.
type column struct {
	Name, Type string
	Repeated   bool
}

func TestAnalyticsSchemaMatchesGo(t *testing.T) {
	c := loadConfig(t)
	ctx := c.evalContext()
	locals := ctx.Variables["local"]
	if !locals.Type().HasAttribute("analytics_tables") {
		t.Fatal("local.analytics_tables is missing or does not evaluate to a literal")
	}
	tables := locals.GetAttr("analytics_tables")
	goSchemas := analytics.Schemas()
	tfTables := map[string][]column{}
	for it := tables.ElementIterator(); it.Next(); {
		k, v := it.Element()
		var cols []column
		for ci := v.GetAttr("schema").ElementIterator(); ci.Next(); {
			_, col := ci.Element()
			mode := col.GetAttr("mode").AsString()
			if mode != "NULLABLE" && mode != "REPEATED" {
				t.Errorf("%s.%s: mode %s, want NULLABLE or REPEATED", k.AsString(), col.GetAttr("name").AsString(), mode)
			}
			cols = append(cols, column{
				Name:     col.GetAttr("name").AsString(),
				Type:     col.GetAttr("type").AsString(),
				Repeated: mode == "REPEATED",
			})
		}
		tfTables[k.AsString()] = cols
	}
	if diff := cmp.Diff(sortedKeys(goSchemas), sortedKeys(tfTables)); diff != "" {
		t.Fatalf("tables (-go +terraform):\n%s", diff)
	}
	for _, table := range sortedKeys(goSchemas) {
		var want []column
		for _, f := range goSchemas[table] {
			want = append(want, column{Name: f.Name, Type: string(f.Type), Repeated: f.Repeated})
		}
		if diff := cmp.Diff(want, tfTables[table]); diff != "" {
			t.Errorf("table %s (-shared/analytics +bigquery.tf):\n%s", table, diff)
		}
	}
}

func TestReferencesAreDeclared(t *testing.T) {
	c := loadConfig(t)
	providers := declaredProviders(c)
	for _, b := range c.top {
		where := b.Type + " " + strings.Join(b.Labels, ".")
		// A dynamic block's iterator is named after its label.
		iterators := map[string]bool{}
		var findDynamic func(body *hclsyntax.Body)
		findDynamic = func(body *hclsyntax.Body) {
			for _, child := range body.Blocks {
				if child.Type == "dynamic" && len(child.Labels) == 1 {
					iterators[child.Labels[0]] = true
				}
				findDynamic(child.Body)
			}
		}
		findDynamic(b.Body)
		// provider = <name> is a provider reference, not an expression.
		if a, ok := b.Body.Attributes["provider"]; ok && b.Type != "variable" {
			name := ref(a.Expr)
			if !providers[name] {
				t.Errorf("%s: provider %q is not in required_providers", where, name)
			}
		}
		for _, tr := range traversalsExceptProvider(b) {
			var names []string
			for _, step := range tr {
				switch s := step.(type) {
				case hcl.TraverseRoot:
					names = append(names, s.Name)
				case hcl.TraverseAttr:
					names = append(names, s.Name)
				}
			}
			ok := true
			switch {
			case iterators[names[0]]:
				continue
			}
			switch names[0] {
			case "each", "count", "path", "terraform", "self":
			case "var":
				ok = len(names) > 1 && c.variables[names[1]] != nil
			case "local":
				ok = len(names) > 1 && c.locals[names[1]] != nil
			case "data":
				ok = len(names) > 2 && c.data[names[1]][names[2]] != nil
			default:
				ok = len(names) > 1 && c.resources[names[0]][names[1]] != nil
			}
			if !ok {
				t.Errorf("%s: reference to undeclared %s", where, strings.Join(names, "."))
			}
		}
	}
}

// declaredProviders lists the local names of required_providers.
func declaredProviders(c *config) map[string]bool {
	out := map[string]bool{}
	for _, b := range c.top {
		if b.Type != "terraform" {
			continue
		}
		if rp := nested(b, "required_providers"); rp != nil {
			for name := range rp.Body.Attributes {
				out[name] = true
			}
		}
	}
	return out
}

// traversalsExceptProvider is traversals without the provider
// meta-argument of a resource.
func traversalsExceptProvider(b *hclsyntax.Block) []hcl.Traversal {
	if _, ok := b.Body.Attributes["provider"]; !ok {
		return traversals(b)
	}
	clone := *b
	body := *b.Body
	body.Attributes = hclsyntax.Attributes{}
	for k, v := range b.Body.Attributes {
		if k != "provider" {
			body.Attributes[k] = v
		}
	}
	clone.Body = &body
	return traversals(&clone)
}

// pushEndpoint splits "${<url ref>}/${<topic ref>}" into its two references;
// for any other expression it returns the plain reference (or "") and "".
func pushEndpoint(expr hclsyntax.Expression) (url, topic string) {
	te, ok := expr.(*hclsyntax.TemplateExpr)
	if !ok {
		return ref(expr), ""
	}
	if len(te.Parts) != 3 {
		return "", ""
	}
	lit, ok := te.Parts[1].(*hclsyntax.LiteralValueExpr)
	if !ok || lit.Val.Type() != cty.String || lit.Val.AsString() != "/" {
		return "", ""
	}
	return ref(te.Parts[0]), ref(te.Parts[2])
}
