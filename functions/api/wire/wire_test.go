package wire

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/store"
)

// fill sets every field of v, recursively, to a value that is not zero, so
// that a field the wire type forgets shows in its JSON.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(3)
	case reflect.Float64, reflect.Float32:
		v.SetFloat(0.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		if e.Kind() == reflect.Interface {
			e.Set(reflect.ValueOf("y"))
		} else {
			fill(e)
		}
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 12, 4, 1, 2, 3, 4, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	}
}

func filled[T any]() *T {
	var d T
	fill(reflect.ValueOf(&d).Elem())
	return &d
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSameJSONAsTheDocuments: the wire types serve the JSON the API served
// before it had them (the documents' own JSON, which leaves leases out),
// every field included, so the CLI, the dashboard and scripts keep
// working; and no lease reaches the API.
func TestSameJSONAsTheDocuments(t *testing.T) {
	p, e, ph, ev := filled[store.Prompt](), filled[store.Epoch](), filled[store.Phase](), filled[store.Event]()
	tests := []struct {
		name      string
		doc, wire any
	}{
		{"prompt", p, FromPrompt(p)},
		{"epoch", e, FromEpoch(e)},
		{"phase", ph, FromPhase(ph)},
		{"event", ev, FromEvent(ev)},
		{"empty epoch", &store.Epoch{}, FromEpoch(&store.Epoch{})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, got := jsonOf(t, tt.doc), jsonOf(t, tt.wire)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("JSON (-document +wire):\n%s", diff)
			}
			if strings.Contains(got, "lease") || strings.Contains(got, "holder") {
				t.Errorf("a lease reaches the API: %s", got)
			}
		})
	}
	if ph.Lease == nil {
		t.Fatal("fill left the phase's lease unset: the test would not see it")
	}
}

// Empty lists are [] (never null), as the API answered them.
func TestEmptyLists(t *testing.T) {
	for name, v := range map[string]any{
		"prompts": FromPrompts(nil), "epochs": FromEpochs(nil), "phases": FromPhases(nil), "events": FromEvents(nil),
	} {
		if got, want := jsonOf(t, v), `{"`+name+`":[]}`; got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
}
