package terraform

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// This file checks the Firestore side of the deployment against the code:
// every query of shared/store either runs on Firestore's automatic
// single-field indexes or has its composite index in firestore.tf; batch
// documents are only ever created done (so their aggregations need no
// filter); and the TTL policies match the field the code writes.

// fsQuery is one Firestore query as built by the code: its collection, its
// filters, orders and aggregations, in the order they were added.
type fsQuery struct {
	where     string // file:function
	coll      string
	filters   []fsFilter
	orders    []fsField
	sums      []string // sum/avg fields
	aggregate bool
}

type fsFilter struct{ field, op string }

type fsField struct{ path, order string } // order ASCENDING or DESCENDING

func (q fsQuery) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", q.where, q.coll)
	for _, f := range q.filters {
		fmt.Fprintf(&b, " where %s %s", f.field, f.op)
	}
	for _, o := range q.orders {
		fmt.Fprintf(&b, " order %s %s", o.path, o.order)
	}
	for _, s := range q.sums {
		fmt.Fprintf(&b, " sum %s", s)
	}
	if q.aggregate {
		b.WriteString(" (aggregation)")
	}
	return b.String()
}

// compositeIndexes returns the composite indexes a query needs under
// Firestore's rules, or none when the automatic single-field indexes serve
// it:
//   - equality filters alone are served by merging single-field indexes;
//   - one range filter and/or ordering on the same single field is a
//     single-field index;
//   - anything that orders or ranges on a field after filtering on another,
//     orders on two fields, or ranges on two fields needs a composite index
//     (equality fields first, then the range and order fields);
//   - a sum or average is served from an index of the summed field: with a
//     filter or an order on another field it needs a composite index of
//     those fields plus the summed one, and several summed fields in one
//     query need one index over all of them (Firestore scans one index per
//     aggregation query; the emulator drops documents that lack any of the
//     summed fields, as it would from such an index).
func (q fsQuery) compositeIndexes() [][]fsField {
	var eq []string
	var rest []fsField // range and order fields, in order, deduplicated
	seen := map[string]bool{}
	add := func(f fsField) {
		if !seen[f.path] {
			seen[f.path] = true
			rest = append(rest, f)
		}
	}
	for _, f := range q.filters {
		switch f.op {
		case "==", "in", "array-contains", "array-contains-any":
			eq = append(eq, f.field)
		default:
			add(fsField{f.field, "ASCENDING"})
		}
	}
	for _, o := range q.orders {
		if seen[o.path] {
			// The range field's order is the order's.
			for i := range rest {
				if rest[i].path == o.path {
					rest[i].order = o.order
				}
			}
			continue
		}
		add(o)
	}
	sort.Strings(eq)
	base := func() []fsField {
		var out []fsField
		for _, e := range eq {
			out = append(out, fsField{e, "ASCENDING"})
		}
		return append(out, rest...)
	}
	var need [][]fsField
	switch {
	case len(q.sums) > 1:
		idx := base()
		for _, s := range q.sums {
			idx = append(idx, fsField{s, "ASCENDING"})
		}
		need = append(need, idx)
	case len(q.sums) == 1:
		if len(eq)+len(rest) > 0 {
			need = append(need, append(base(), fsField{q.sums[0], "ASCENDING"}))
		}
	case len(rest) > 1 || (len(rest) == 1 && len(eq) > 0):
		need = append(need, base())
	}
	return need
}

// storeQueries parses the non-test Go files of dir and returns every
// Firestore query they build. Inside a function a query variable collects
// every clause any branch adds (the widest query the code can send).
func storeQueries(t *testing.T, dir string) []fsQuery {
	t.Helper()
	fset := token.NewFileSet()
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []fsQuery
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			out = append(out, queriesOf(filepath.Base(p)+":"+fn.Name.Name, fn.Body)...)
		}
	}
	return out
}

func queriesOf(where string, body *ast.BlockStmt) []fsQuery {
	vars := map[string]*fsQuery{}
	var found []*fsQuery
	var eval func(e ast.Expr) *fsQuery
	eval = func(e ast.Expr) *fsQuery {
		switch x := e.(type) {
		case *ast.ParenExpr:
			return eval(x.X)
		case *ast.Ident:
			if q := vars[x.Name]; q != nil {
				c := *q
				c.filters = append([]fsFilter(nil), q.filters...)
				c.orders = append([]fsField(nil), q.orders...)
				c.sums = append([]string(nil), q.sums...)
				return &c
			}
			return nil
		case *ast.SelectorExpr:
			if x.Sel.Name == "Query" { // CollectionRef.Query
				return eval(x.X)
			}
			return nil
		case *ast.CallExpr:
			sel, ok := x.Fun.(*ast.SelectorExpr)
			if !ok {
				return nil
			}
			lit := func(i int) string {
				if i >= len(x.Args) {
					return ""
				}
				if b, ok := x.Args[i].(*ast.BasicLit); ok && b.Kind == token.STRING {
					s, _ := strconv.Unquote(b.Value)
					return s
				}
				// A field named by a variable (a loop over fields): the
				// rules above do not depend on the name of a lone summed
				// field, and a filter on a variable field would show.
				return "<" + types.ExprString(x.Args[i]) + ">"
			}
			if sel.Sel.Name == "Collection" {
				if c := lit(0); c != "" {
					return &fsQuery{where: where, coll: c}
				}
				return nil
			}
			q := eval(sel.X)
			if q == nil {
				return nil
			}
			switch sel.Sel.Name {
			case "Where":
				q.filters = append(q.filters, fsFilter{lit(0), lit(1)})
			case "OrderBy":
				order := "ASCENDING"
				if len(x.Args) > 1 {
					if s, ok := x.Args[1].(*ast.SelectorExpr); ok && s.Sel.Name == "Desc" {
						order = "DESCENDING"
					}
				}
				q.orders = append(q.orders, fsField{lit(0), order})
			case "NewAggregationQuery", "WithCount":
				q.aggregate = true
			case "WithSum", "WithAvg", "WithSumPath", "WithAvgPath":
				q.aggregate = true
				q.sums = append(q.sums, lit(0))
			case "Documents", "Get", "GetAll", "Limit", "LimitToLast", "Offset", "StartAt", "StartAfter", "EndAt", "EndBefore", "Select":
			default:
				return nil
			}
			return q
		}
		return nil
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.AssignStmt:
			for i, rhs := range x.Rhs {
				q := eval(rhs)
				if q == nil || i >= len(x.Lhs) {
					continue
				}
				if id, ok := x.Lhs[i].(*ast.Ident); ok && id.Name != "_" {
					vars[id.Name] = q
				}
				found = append(found, q)
			}
		case *ast.CallExpr:
			// A query handed to a helper, e.g. list(ctx, <query>, fn).
			for _, a := range x.Args {
				if q := eval(a); q != nil {
					found = append(found, q)
				}
			}
		case *ast.ReturnStmt:
			for _, r := range x.Results {
				if q := eval(r); q != nil {
					found = append(found, q)
				}
			}
		}
		return true
	})
	// Every query the function built, its widest form first; the same
	// query seen twice (an assignment, then passed on) counts once.
	seen := map[string]bool{}
	var out []fsQuery
	for _, q := range found {
		if s := q.String(); !seen[s] {
			seen[s] = true
			out = append(out, *q)
		}
	}
	return out
}

// terraformIndexes lists the composite indexes of firestore.tf by
// collection.
func terraformIndexes(t *testing.T, c *config) map[string][][]fsField {
	t.Helper()
	ctx := c.evalContext()
	out := map[string][][]fsField{}
	for _, name := range sortedKeys(c.resources["google_firestore_index"]) {
		b := c.resources["google_firestore_index"][name]
		coll := stringValue(t, ctx, attr(b, "collection"), "google_firestore_index."+name+".collection")
		var fields []fsField
		for _, f := range b.Body.Blocks {
			if f.Type != "fields" {
				continue
			}
			fields = append(fields, fsField{
				path:  stringValue(t, ctx, attr(f, "field_path"), name+".fields.field_path"),
				order: stringValue(t, ctx, attr(f, "order"), name+".fields.order"),
			})
		}
		out[coll] = append(out[coll], fields)
	}
	return out
}

// covers reports whether index serves need: the same fields, the leading
// equality fields in any order, the rest in order and direction.
func covers(index, need []fsField) bool {
	if len(index) != len(need) {
		return false
	}
	return slices.Equal(index, need) || sameEqualityPrefix(index, need)
}

func sameEqualityPrefix(index, need []fsField) bool {
	// need's equality fields are the ASCENDING prefix before the first
	// field that index and need agree on positionally from the end.
	k := len(need)
	for k > 0 && index[k-1] == need[k-1] {
		k--
	}
	a, b := map[fsField]int{}, map[fsField]int{}
	for i := 0; i < k; i++ {
		a[index[i]]++
		b[need[i]]++
	}
	return maps.Equal(a, b)
}

// TestFirestoreQueriesHaveTheirIndexes walks every query of shared/store:
// each one that needs a composite index has it in firestore.tf, and every
// composite index there serves a query. The emulator needs no index at
// all, so no other test would notice a missing one before production.
func TestFirestoreQueriesHaveTheirIndexes(t *testing.T) {
	queries := storeQueries(t, filepath.Join(moduleRoot, "shared", "store"))
	colls := map[string]bool{}
	for _, q := range queries {
		colls[q.coll] = true
	}
	// The walk found the queries there are (it is not vacuous).
	for _, c := range []string{"runs", "prompts", "phases", "batches", "epochs", "events", "spend"} {
		if !colls[c] {
			t.Errorf("no query on %s found in shared/store; the parser missed it", c)
		}
	}
	c := loadConfig(t)
	indexes := terraformIndexes(t, c)
	used := map[string]bool{}
	for _, q := range queries {
		for _, need := range q.compositeIndexes() {
			ok := false
			for i, idx := range indexes[q.coll] {
				if covers(idx, need) {
					ok = true
					used[fmt.Sprint(q.coll, i)] = true
				}
			}
			if !ok {
				t.Errorf("query %s needs the composite index %s %v, which terraform/firestore.tf does not declare", q, q.coll, need)
			}
		}
	}
	for coll, list := range indexes {
		for i, idx := range list {
			if !used[fmt.Sprint(coll, i)] {
				t.Errorf("firestore.tf declares the index %s %v, which no query of shared/store needs", coll, idx)
			}
		}
	}
	for _, q := range queries {
		t.Logf("%s -> composite %v", q, q.compositeIndexes())
	}
}

// The rules applied to the queries the code had and has, so the test
// above is only as good as they are: these are the cases that matter.
func TestCompositeIndexRules(t *testing.T) {
	parse := func(t *testing.T, src string) []fsQuery {
		t.Helper()
		f, err := parser.ParseFile(token.NewFileSet(), "x.go", "package x\n"+src, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []fsQuery
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok {
				out = append(out, queriesOf(fn.Name.Name, fn.Body)...)
			}
		}
		return out
	}
	for _, tt := range []struct {
		name, src string
		want      [][][]fsField // per query found
	}{
		{"list runs by status, newest first",
			`func f(s *S, status string) { q := s.fs.Collection("runs").Query; if status != "" { q = q.Where("status", "==", status) }; q = q.OrderBy("created_at", firestore.Desc); list(ctx, q, nil) }`,
			[][][]fsField{nil, nil, {{{"status", "ASCENDING"}, {"created_at", "DESCENDING"}}}}},
		{"events after a time, in time order",
			`func f(s *S) { q := s.run(r).Collection("events").OrderBy("time", firestore.Asc); q = q.Where("time", ">", after); list(ctx, q, nil) }`,
			[][][]fsField{nil, nil}},
		{"count of the done batches",
			`func f(s *S) { q := s.phase(r, p).Collection("batches").Where("done", "==", true); res, err := q.NewAggregationQuery().WithCount("n").Get(ctx) }`,
			[][][]fsField{nil, nil}},
		{"a sum of a field named by a variable, unfiltered",
			`func f(s *S) { for _, f := range fields { res, err := s.fs.Collection("batches").NewAggregationQuery().WithSum(f.field, "sum").Get(ctx) } }`,
			[][][]fsField{nil}},
		{"the DoneBatchUsage of before issue 16: filtered sums",
			`func f(s *S) { q := s.phase(r, p).Collection("batches").Where("done", "==", true); first, err := q.NewAggregationQuery().WithCount("n").WithSum("usage.calls", "calls").WithSum("usage.cost_usd", "cost_usd").Get(ctx) }`,
			[][][]fsField{nil, {{{"done", "ASCENDING"}, {"usage.calls", "ASCENDING"}, {"usage.cost_usd", "ASCENDING"}}}}},
		{"one unfiltered sum",
			`func f(s *S) { q := s.phase(r, p).Collection("batches").Query; res, err := q.NewAggregationQuery().WithSum("usage.calls", "sum").Get(ctx) }`,
			[][][]fsField{nil, nil}},
		{"two equality filters (index merging)",
			`func f(s *S) { list(ctx, s.fs.Collection("runs").Where("source.bucket", "==", b).Where("source.object", "==", o), nil) }`,
			[][][]fsField{nil}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			qs := parse(t, tt.src)
			var got [][][]fsField
			for _, q := range qs {
				got = append(got, q.compositeIndexes())
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(fsField{})); diff != "" {
				t.Errorf("composite indexes of %v (-want +got):\n%s", qs, diff)
			}
		})
	}
}

// TestBatchDocumentsAreCreatedDone proves what DoneBatchUsage relies on to
// aggregate without a done filter: in all of the module's code, the only
// write of a batch document is the Create in store.CompleteBatch, after
// it sets Done.
func TestBatchDocumentsAreCreatedDone(t *testing.T) {
	fset := token.NewFileSet()
	var writes []string
	err := filepath.WalkDir(moduleRoot, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != moduleRoot && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			doneSet := token.NoPos
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == 1 {
					if sel, ok := as.Lhs[0].(*ast.SelectorExpr); ok && sel.Sel.Name == "Done" {
						if id, ok := as.Rhs[0].(*ast.Ident); ok && id.Name == "true" && doneSet == token.NoPos {
							doneSet = as.Pos()
						}
					}
				}
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				switch sel.Sel.Name {
				case "Create", "Set", "Update", "Delete", "Add":
				default:
					return true
				}
				// The write's target: the receiver, or a document ref
				// argument (transactions and write batches).
				targets := append([]ast.Expr{sel.X}, call.Args...)
				for _, tg := range targets {
					if refersToBatches(tg) {
						rel, _ := filepath.Rel(moduleRoot, p)
						w := fmt.Sprintf("%s:%s %s", filepath.ToSlash(rel), fn.Name.Name, sel.Sel.Name)
						if doneSet != token.NoPos && doneSet < call.Pos() {
							w += " after Done = true"
						}
						writes = append(writes, w)
					}
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"shared/store/store.go:CompleteBatch Create after Done = true"}
	if diff := cmp.Diff(want, writes); diff != "" {
		t.Errorf("writes of batch documents (-want +got):\n%s\n"+
			"DoneBatchUsage aggregates every batch document with no done filter; a batch document written any other way breaks that", diff)
	}
}

// refersToBatches reports whether e is a batch document or collection
// reference: a call of the store's batch(...) helper, or a chain through
// Collection("batches").
func refersToBatches(e ast.Expr) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
			if sel.Sel.Name == "batch" {
				found = true
			}
			if sel.Sel.Name == "Collection" && len(call.Args) == 1 {
				if b, ok := call.Args[0].(*ast.BasicLit); ok && b.Value == `"batches"` {
					found = true
				}
			}
		}
		return !found
	})
	return found
}

// TestFirestoreTTL: the events and uploads collections have a TTL policy on
// the field the store writes, with its single-field indexes off, and the
// functions get the retention from the variable.
func TestFirestoreTTL(t *testing.T) {
	c := loadConfig(t)
	ctx := c.evalContext()
	fields := c.resources["google_firestore_field"]
	ttl := map[string]string{} // collection -> field
	for _, name := range sortedKeys(fields) {
		b := fields[name]
		if nested(b, "ttl_config") == nil {
			continue
		}
		field := stringValue(t, ctx, attr(b, "field"), "google_firestore_field."+name+".field")
		if nested(b, "index_config") == nil || len(nested(b, "index_config").Body.Blocks) != 0 {
			t.Errorf("google_firestore_field.%s: the TTL field should have its single-field indexes off (index_config {})", name)
		}
		colls := []string{}
		if fe, ok := b.Body.Attributes["for_each"]; ok {
			expr := fe.Expr
			if call, ok := expr.(*hclsyntax.FunctionCallExpr); ok && call.Name == "toset" && len(call.Args) == 1 {
				expr = call.Args[0]
			}
			v, diags := expr.Value(ctx)
			if diags.HasErrors() {
				t.Fatalf("for_each of %s: %s", name, diags.Error())
			}
			for it := v.ElementIterator(); it.Next(); {
				_, e := it.Element()
				colls = append(colls, e.AsString())
			}
			if ref(attr(b, "collection")) != "each.value" {
				t.Errorf("google_firestore_field.%s: collection must be each.value", name)
			}
		} else {
			colls = append(colls, stringValue(t, ctx, attr(b, "collection"), name+".collection"))
		}
		for _, coll := range colls {
			ttl[coll] = field
		}
	}
	if diff := cmp.Diff(map[string]string{"events": "expire_at", "uploads": "expire_at"}, ttl); diff != "" {
		t.Errorf("TTL policies (-want +got):\n%s", diff)
	}
	// The code writes that field: the constant of shared/store.
	src, err := os.ReadFile(filepath.Join(moduleRoot, "shared", "store", "retention.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), `ExpireAtField = "expire_at"`) {
		t.Error(`shared/store/retention.go does not define ExpireAtField = "expire_at"`)
	}
	env, ok := c.locals["function_env"].(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatal("local.function_env is not an object")
	}
	for _, item := range env.Items {
		if hclKeyword(item.KeyExpr) == "PROMPTML_FIRESTORE_RETENTION" {
			if !refs(&hclsyntax.Block{Body: &hclsyntax.Body{Attributes: hclsyntax.Attributes{"v": {Name: "v", Expr: item.ValueExpr}}}})["var.firestore_retention_days"] {
				t.Error("PROMPTML_FIRESTORE_RETENTION is not derived from var.firestore_retention_days")
			}
			return
		}
	}
	t.Error("local.function_env has no PROMPTML_FIRESTORE_RETENTION")
}

func hclKeyword(e hclsyntax.Expression) string {
	if k, ok := e.(*hclsyntax.ObjectConsKeyExpr); ok {
		if st, ok := k.Wrapped.(*hclsyntax.ScopeTraversalExpr); ok {
			return st.Traversal.RootName()
		}
	}
	return ""
}
