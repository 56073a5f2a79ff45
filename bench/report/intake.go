package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/storage"

	"github.com/promptml/promptml/shared/localcloud"
	"github.com/promptml/promptml/shared/queue"
	"github.com/promptml/promptml/shared/store"
)

// Names of benchmark (3)'s buckets on the in-process fake Cloud Storage.
const (
	intakeDatasets  = "promptml-bench-datasets"
	intakeArtifacts = "promptml-bench-artifacts"
	intakeProject   = "promptml-bench"
)

// intakeRun is one measured intake.
type intakeRun struct {
	Wall     time.Duration // the CloudEvent POST, sent to answered
	PeakMiB  float64       // VmHWM of the function process (its whole life)
	RowsPerS float64
}

// intakeResult is benchmark (3).
type intakeResult struct {
	Rows      int
	Bytes     int64
	BatchSize int
	Runs      []intakeRun
	Command   string
	Batches   int
	// IntakeEvent is the run's intake event of the last run (its own
	// timing of validate + split + shards).
	IntakeEvent string
	// ColdStarts are the warm-up intakes (10 rows) of each fresh process.
	ColdStarts []time.Duration
}

// writeIntakeCSV writes n rows of about 100 bytes.
func writeIntakeCSV(path string, n int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	_, _ = w.WriteString("user_input,ground_truth_output\n")
	for i := range n {
		// ~100 bytes, a comma and quotes in some rows so the reader's
		// quoted path is exercised too.
		id := strconv.Itoa(i)
		if i%10 == 0 {
			_, _ = w.WriteString(`"Summarize ticket ` + id + `, filed by customer ` + id + ` about a delayed parcel.",Ticket ` + id + ": parcel delayed\n")
		} else {
			_, _ = w.WriteString("Classify the sentiment of review number " + id + " which says the product arrived on time,positive " + id + "\n")
		}
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), f.Close()
}

// runIntake runs benchmark (3): the generated CSV through the real
// OnDatasetUpload function (its own process, the Functions Framework, the
// Firestore and Pub/Sub emulators, fake-gcs-server in this process), one
// fresh function process per run so that its VmHWM is this intake's.
func runIntake(ctx context.Context, h *harness, batchSize, runs int) (*intakeResult, error) {
	res := &intakeResult{Rows: h.intakeRows, BatchSize: batchSize}
	dir := filepath.Join(h.work, "intake")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	csvPath := filepath.Join(dir, fmt.Sprintf("intake-%d.csv", h.intakeRows))
	n, err := fileSize(csvPath)
	if err != nil {
		h.logf("intake: generating %d rows", h.intakeRows)
		if n, err = writeIntakeCSV(csvPath, h.intakeRows); err != nil {
			return nil, err
		}
	}
	res.Bytes = n
	st, err := localcloud.StartStorage(ctx, localcloud.StorageOptions{Project: intakeProject, Buckets: []string{intakeDatasets, intakeArtifacts}})
	if err != nil {
		return nil, err
	}
	defer st.Stop()
	ps, err := localcloud.NewPubSubClient(ctx, h.emulators.PubSubHost, intakeProject)
	if err != nil {
		return nil, err
	}
	defer ps.Close()
	// The topics exist, without subscriptions: the fan-out is published
	// (and timed) but nothing consumes it.
	if err := localcloud.SetupPubSub(ctx, ps, intakeProject, []localcloud.Route{{Topic: queue.BatchesTopic}, {Topic: queue.PhaseDoneTopic}}); err != nil {
		return nil, err
	}
	gcs, err := st.Client(ctx)
	if err != nil {
		return nil, err
	}
	defer gcs.Close()
	fs, err := firestore.NewClient(ctx, intakeProject) // FIRESTORE_EMULATOR_HOST is set
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	env := []string{
		"PROMPTML_PROJECT=" + intakeProject,
		"PROMPTML_DATASETS_BUCKET=" + intakeDatasets,
		"PROMPTML_ARTIFACTS_BUCKET=" + intakeArtifacts,
		"FIRESTORE_EMULATOR_HOST=" + h.emulators.FirestoreHost,
		"PUBSUB_EMULATOR_HOST=" + h.emulators.PubSubHost,
		"STORAGE_EMULATOR_HOST=" + st.Host,
		"GCE_METADATA_HOST=127.0.0.1:1",
		"FUNCTION_TARGET=OnDatasetUpload",
	}
	sidecar := fmt.Sprintf("epochs: 0\nbatch_size: %d\n", batchSize)
	// A small CSV warms each fresh function process up first (clients,
	// connections: the cold start), so that the measured intake is the
	// work of a warm instance; the cold start is reported on its own.
	warm := "user_input,ground_truth_output\n"
	for i := range 10 {
		warm += fmt.Sprintf("warm-up input %d,output %d\n", i, i)
	}
	for i := range runs {
		name := fmt.Sprintf("intake-%d-%d.csv", time.Now().UnixNano(), i)
		if err := upload(ctx, gcs, intakeDatasets, strings.TrimSuffix(name, ".csv")+".yaml", strings.NewReader(sidecar)); err != nil {
			return nil, err
		}
		fh, err := os.Open(csvPath)
		if err != nil {
			return nil, err
		}
		gen, err := uploadGen(ctx, gcs, intakeDatasets, name, fh)
		fh.Close()
		if err != nil {
			return nil, err
		}
		port, err := localcloud.FreePort()
		if err != nil {
			return nil, err
		}
		args := []string{"functions", "--target", "OnDatasetUpload", "--port", strconv.Itoa(port)}
		res.Command = "bin/promptml " + relArgs(args) + "  + one storage CloudEvent for the uploaded CSV (sidecar: " + strings.TrimSpace(strings.ReplaceAll(sidecar, "\n", "; ")) + ")"
		h.logf("intake: batch_size %d, run %d/%d: %s (%.1f MB)", batchSize, i+1, runs, name, float64(n)/1e6)
		fn, err := startProc(ctx, "", env, nil, nil, h.bin, args...)
		if err != nil {
			return nil, err
		}
		url := fmt.Sprintf("http://127.0.0.1:%d/", port)
		if err := waitHTTP(ctx, url, 30*time.Second); err != nil {
			fn.kill()
			return nil, err
		}
		warmName := "warm-" + name
		warmGen, err := uploadGen(ctx, gcs, intakeDatasets, warmName, strings.NewReader(warm))
		if err != nil {
			fn.kill()
			return nil, err
		}
		tw := time.Now()
		if err := postStorageEvent(ctx, url, intakeDatasets, warmName, warmGen); err != nil {
			fn.kill()
			return nil, fmt.Errorf("intake warm-up: %w\n%s", err, fn.tail(20))
		}
		res.ColdStarts = append(res.ColdStarts, time.Since(tw))
		t0 := time.Now()
		err = postStorageEvent(ctx, url, intakeDatasets, name, gen)
		wall := time.Since(t0)
		hwm := readVmHWM(fn.cmd.Process.Pid)
		_ = syscall.Kill(-fn.cmd.Process.Pid, syscall.SIGTERM)
		_, _, _, _ = fn.waitExit(ctx, 30*time.Second)
		if err != nil {
			return nil, fmt.Errorf("intake: %w\n%s", err, fn.tail(20))
		}
		run, err := findUploadRun(ctx, fs, intakeDatasets, name)
		if err != nil {
			return nil, err
		}
		// The intake succeeded only if the run moved on to its baseline with
		// every row split (a bad CSV fails the run and still answers 2xx).
		if run.Status != store.StatusRunning || run.Stage != store.StageBaseline || run.Dataset.Rows != h.intakeRows {
			return nil, fmt.Errorf("intake: run %s is %s/%s with %d rows (error %+v), want running/baseline with %d rows",
				run.ID, run.Status, run.Stage, run.Dataset.Rows, run.Error, h.intakeRows)
		}
		// The run's events say where the time went: created → intake
		// (validated and split) → baseline-start (phases and run updated);
		// the rest, up to the answer, is the fan-out's publishing.
		if evs, err := fs.Collection("runs").Doc(run.ID).Collection("events").OrderBy("time", firestore.Asc).Documents(ctx).GetAll(); err == nil {
			for _, e := range evs {
				var ev store.Event
				if e.DataTo(&ev) == nil {
					h.logf("intake:   +%.2fs %s: %s", ev.Time.Sub(t0).Seconds(), ev.Kind, ev.Message)
					if ev.Kind == "intake" {
						res.IntakeEvent = ev.Message
					}
				}
			}
		}
		res.Batches = 0
		for _, b := range run.Dataset.Batches {
			res.Batches += b
		}
		r := intakeRun{Wall: wall, PeakMiB: float64(hwm) / 1024, RowsPerS: float64(h.intakeRows) / wall.Seconds()}
		res.Runs = append(res.Runs, r)
		h.logf("intake:   %.2fs, %.0f rows/s, peak RSS %.0f MiB", wall.Seconds(), r.RowsPerS, r.PeakMiB)
	}
	return res, nil
}

// findUploadRun reads the run an upload started from Firestore.
func findUploadRun(ctx context.Context, fs *firestore.Client, bucket, object string) (*store.Run, error) {
	docs, err := fs.Collection("runs").Where("source.bucket", "==", bucket).Where("source.object", "==", object).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("find the run of %s: %w", object, err)
	}
	if len(docs) != 1 {
		return nil, fmt.Errorf("find the run of %s: %d runs", object, len(docs))
	}
	var r store.Run
	if err := docs[0].DataTo(&r); err != nil {
		return nil, err
	}
	r.ID = docs[0].Ref.ID
	return &r, nil
}

// fileSize returns the size of a CSV generated earlier (the generator is
// deterministic).
func fileSize(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func upload(ctx context.Context, gcs *storage.Client, bucket, name string, r io.Reader) error {
	_, err := uploadGen(ctx, gcs, bucket, name, r)
	return err
}

func uploadGen(ctx context.Context, gcs *storage.Client, bucket, name string, r io.Reader) (int64, error) {
	w := gcs.Bucket(bucket).Object(name).NewWriter(ctx)
	if _, err := io.Copy(w, r); err != nil {
		_ = w.Close()
		return 0, fmt.Errorf("upload %s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("upload %s: %w", name, err)
	}
	return w.Attrs().Generation, nil
}

// postStorageEvent delivers a google.cloud.storage.object.v1.finalized
// CloudEvent in binary content mode, as Eventarc does.
func postStorageEvent(ctx context.Context, url, bucket, name string, gen int64) error {
	body := fmt.Sprintf(`{"bucket":%q,"name":%q,"generation":"%d","contentType":"text/csv"}`, bucket, name, gen)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ce-specversion", "1.0")
	req.Header.Set("ce-type", "google.cloud.storage.object.v1.finalized")
	req.Header.Set("ce-source", "//storage.googleapis.com/projects/_/buckets/"+bucket)
	req.Header.Set("ce-subject", "objects/"+name)
	req.Header.Set("ce-id", fmt.Sprintf("bench-%d", gen))
	req.Header.Set("ce-time", time.Now().UTC().Format(time.RFC3339Nano))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("OnDatasetUpload answered %s: %s", resp.Status, b)
	}
	return nil
}

// readVmHWM returns a process's peak RSS in KiB.
func readVmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	return parseStatusKiB(b, "VmHWM")
}

// waitHTTP waits until url answers at all.
func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %s: %w", url, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
