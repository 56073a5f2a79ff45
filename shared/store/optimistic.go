package store

//lint:file-ignore SA1019 WriteBatch is the one Firestore write that carries a last-update-time precondition and extra writes atomically without a lock (optimistic.go says why transactions are not used).

import (
	"context"
	"math/rand/v2"
	"reflect"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Why optimistic writes: Firestore's server libraries (and the emulator)
// run transactions under pessimistic locks, so the documents that many
// invocations touch at once (a phase whose last batches finish together, a
// run whose duplicate messages race) would queue on lock timeouts. Instead
// we read, decide, and write with a last-update-time precondition,
// re-reading on conflict.

// maxConflicts bounds the re-reads of one optimistic write.
const maxConflicts = 50

// errConflict is a failed last-update-time precondition.
func isConflict(err error) bool {
	c := status.Code(err)
	return c == codes.FailedPrecondition || c == codes.Aborted
}

// modify reads ref into v, calls fn, and if fn asks to write, writes v's
// top-level fields back with extra (in the same atomic batch) under a
// precondition that the document has not changed since the read. fn may run
// several times.
func (s *Store) modify(ctx context.Context, ref *firestore.DocumentRef, v any, fn func() (write bool, extra func(*firestore.WriteBatch), err error)) error {
	for attempt := 0; ; attempt++ {
		snap, err := ref.Get(ctx)
		if err != nil {
			return err
		}
		reset(v)
		if err := snap.DataTo(v); err != nil {
			return err
		}
		write, extra, err := fn()
		if err != nil || !write {
			return err
		}
		b := s.fs.Batch()
		b.Update(ref, updatesOf(v), firestore.LastUpdateTime(snap.UpdateTime))
		if extra != nil {
			extra(b)
		}
		_, err = b.Commit(ctx)
		if err == nil {
			return nil
		}
		if !isConflict(err) || attempt >= maxConflicts {
			return err
		}
		d := time.Duration(rand.Int64N(int64(5*time.Millisecond) << min(attempt, 5)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
}

// reset zeroes the struct v points to, so fields absent from a re-read
// document do not keep a previous attempt's values.
func reset(v any) {
	rv := reflect.ValueOf(v).Elem()
	rv.Set(reflect.Zero(rv.Type()))
}

// updatesOf lists v's top-level fields (by their firestore tags) as
// updates: a nil pointer, map or slice under omitempty deletes the field.
func updatesOf(v any) []firestore.Update {
	rv := reflect.ValueOf(v).Elem()
	rt := rv.Type()
	var out []firestore.Update
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		tag := f.Tag.Get("firestore")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fv := rv.Field(i)
		if strings.Contains(opts, "omitempty") && fv.IsZero() {
			out = append(out, firestore.Update{FieldPath: firestore.FieldPath{name}, Value: firestore.Delete})
			continue
		}
		out = append(out, firestore.Update{FieldPath: firestore.FieldPath{name}, Value: fv.Interface()})
	}
	return out
}
