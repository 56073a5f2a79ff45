package terraform

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// invokerRoles are the roles that let a principal call a function.
var invokerRoles = map[string]bool{"roles/run.invoker": true, "roles/cloudfunctions.invoker": true}

// TestAPIAcceptsOnlyIAMCallers checks the deployed API's access rules:
// only the API is reachable from the internet, every function's invoker
// role goes to a service account of this deployment or (for the API) to
// the principals of var.api_invokers, never to a literal principal, and
// the variable refuses public principals.
func TestAPIAcceptsOnlyIAMCallers(t *testing.T) {
	c := loadConfig(t)
	ctx := c.evalContext()
	fns := c.functions(t)
	for _, name := range sortedKeys(fns) {
		want := "ALLOW_INTERNAL_ONLY"
		if name == "api" {
			want = "ALLOW_ALL" // reachable, but only with an identity token of an invoker
		}
		got := stringValue(t, ctx, attr(nested(fns[name], "service_config"), "ingress_settings"), name+".service_config.ingress_settings")
		if got != want {
			t.Errorf("%s: ingress_settings = %q, want %q", name, got, want)
		}
	}
	apiInvokers := 0
	for typ, rs := range c.resources {
		if !strings.Contains(typ, "_iam_") {
			continue
		}
		for _, name := range sortedKeys(rs) {
			r := rs[name]
			role := stringValue(t, ctx, attr(r, "role"), typ+"."+name+".role")
			if !invokerRoles[role] {
				continue
			}
			if strings.HasSuffix(typ, "_iam_binding") || strings.HasSuffix(typ, "_iam_policy") {
				t.Errorf("%s.%s: invoker granted by a binding or policy; use _iam_member resources so every grant is checked here", typ, name)
				continue
			}
			expr := attr(r, "member")
			member := ref(expr)
			switch {
			case isServiceAccountMember(expr):
			case member == "each.value" && strings.Contains(string(c.srcOf(r)), "var.api_invokers"):
				if target := ref(attr(r, "name")); target != "google_cloudfunctions2_function.api.name" {
					t.Errorf("%s.%s: var.api_invokers granted %s on %q, want only the API", typ, name, role, target)
				}
				apiInvokers++
			default:
				t.Errorf("%s.%s: %s granted to %q, want a service account of this deployment or var.api_invokers", typ, name, role, member)
			}
		}
	}
	if apiInvokers != 1 {
		t.Errorf("%d invoker grants from var.api_invokers, want exactly 1 (on the API)", apiInvokers)
	}
}

// isServiceAccountMember reports whether expr is
// "serviceAccount:${google_service_account.<name>.email}".
func isServiceAccountMember(expr hclsyntax.Expression) bool {
	te, ok := expr.(*hclsyntax.TemplateExpr)
	if !ok || len(te.Parts) != 2 {
		return false
	}
	lit, ok := te.Parts[0].(*hclsyntax.LiteralValueExpr)
	return ok && lit.Val.Type() == cty.String && lit.Val.AsString() == "serviceAccount:" && saEmail.MatchString(ref(te.Parts[1]))
}

// srcOf returns the source text of a block.
func (c *config) srcOf(b *hclsyntax.Block) []byte {
	r := b.Range()
	return c.src[r.Filename][r.Start.Byte:r.End.Byte]
}

// TestAPIInvokersRejectsPublicPrincipals evaluates the validation of
// var.api_invokers as Terraform would.
func TestAPIInvokersRejectsPublicPrincipals(t *testing.T) {
	c := loadConfig(t)
	v := c.variables["api_invokers"]
	if v == nil {
		t.Fatal("variable api_invokers is not declared")
	}
	cond := attr(nested(v, "validation"), "condition")
	if cond == nil {
		t.Fatal("api_invokers has no validation condition")
	}
	tests := []struct {
		members []string
		ok      bool
	}{
		{[]string{"user:alice@example.com", "group:ml@example.com", "serviceAccount:ci@p.iam.gserviceaccount.com"}, true},
		{[]string{}, true},
		{[]string{"allUsers"}, false},
		{[]string{"allAuthenticatedUsers"}, false},
		{[]string{"user:alice@example.com", "allusers"}, false},
		{[]string{"principalSet://goog/public:all"}, false},
		{[]string{"alice@example.com"}, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.members, ","), func(t *testing.T) {
			got := evalListCondition(t, cond, "api_invokers", tt.members)
			if got != tt.ok {
				t.Errorf("validation(%q) = %v, want %v", tt.members, got, tt.ok)
			}
		})
	}
}
