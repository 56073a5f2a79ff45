# One service account per function, one for builds, one that Pub/Sub uses to
# push and one that Eventarc uses to deliver storage events. Each gets only
# what its code does (DESIGN.md, "who does what"), bound on the bucket, topic,
# dataset or service where Google Cloud allows it.

data "google_project" "this" {
  project_id = var.project_id
}

data "google_storage_project_service_account" "gcs" {
  project = var.project_id
}

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  # Runtime identity of each function.
  function_members = {
    on_dataset_upload = "serviceAccount:${google_service_account.on_dataset_upload.email}"
    api               = "serviceAccount:${google_service_account.api.email}"
    run_batch         = "serviceAccount:${google_service_account.run_batch.email}"
    aggregate         = "serviceAccount:${google_service_account.aggregate.email}"
  }
}

resource "google_service_account" "on_dataset_upload" {
  project      = var.project_id
  account_id   = "promptml-on-dataset-upload"
  display_name = "promptml OnDatasetUpload"
  description  = "Runtime identity of the OnDatasetUpload function."

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "api" {
  project      = var.project_id
  account_id   = "promptml-api"
  display_name = "promptml API"
  description  = "Runtime identity of the API function."

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "run_batch" {
  project      = var.project_id
  account_id   = "promptml-run-batch"
  display_name = "promptml RunBatch"
  description  = "Runtime identity of the RunBatch function."

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "aggregate" {
  project      = var.project_id
  account_id   = "promptml-aggregate"
  display_name = "promptml Aggregate"
  description  = "Runtime identity of the Aggregate function."

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "promptml-build"
  display_name = "promptml function builds"
  description  = "Cloud Build identity that turns the source zip into function images."

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "invoker" {
  project      = var.project_id
  account_id   = "promptml-push-invoker"
  display_name = "promptml Pub/Sub push invoker"
  description  = "Identity in the OIDC token of push deliveries to RunBatch and Aggregate."

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "trigger" {
  project      = var.project_id
  account_id   = "promptml-upload-trigger"
  display_name = "promptml upload trigger"
  description  = "Eventarc identity that delivers dataset uploads to OnDatasetUpload."

  depends_on = [google_project_service.apis]
}

# --- Firestore: all four functions read and write run state. Firestore has no
# per-collection IAM, so this is the one project-wide data role.
resource "google_project_iam_member" "firestore_user" {
  for_each = local.function_members

  project = var.project_id
  role    = "roles/datastore.user"
  member  = each.value
}

# --- Vertex AI: only the functions that call Gemini.
resource "google_project_iam_member" "vertex_user" {
  for_each = {
    run_batch = local.function_members.run_batch
    aggregate = local.function_members.aggregate
  }

  project = var.project_id
  role    = "roles/aiplatform.user"
  member  = each.value
}

# --- Cloud Storage, per bucket.
resource "google_storage_bucket_iam_member" "datasets_reader" {
  for_each = {
    on_dataset_upload = local.function_members.on_dataset_upload
    api               = local.function_members.api # POST /runs names a gs:// object
  }

  bucket = google_storage_bucket.datasets.name
  role   = "roles/storage.objectViewer"
  member = each.value
}

# Every function reads and writes artifacts (splits, results, exports).
# objectUser rather than objectCreator: a redelivered message rewrites the
# same object, which needs delete permission.
resource "google_storage_bucket_iam_member" "artifacts_user" {
  for_each = local.function_members

  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.objectUser"
  member = each.value
}

# --- Pub/Sub, per topic.
resource "google_pubsub_topic_iam_member" "batches_publisher" {
  for_each = {
    on_dataset_upload = local.function_members.on_dataset_upload
    api               = local.function_members.api
    aggregate         = local.function_members.aggregate
  }

  project = var.project_id
  topic   = google_pubsub_topic.batches.name
  role    = "roles/pubsub.publisher"
  member  = each.value
}

resource "google_pubsub_topic_iam_member" "phase_done_publisher" {
  for_each = {
    on_dataset_upload = local.function_members.on_dataset_upload # an empty split completes its phase at once
    run_batch         = local.function_members.run_batch
    aggregate         = local.function_members.aggregate
  }

  project = var.project_id
  topic   = google_pubsub_topic.phase_done.name
  role    = "roles/pubsub.publisher"
  member  = each.value
}

# --- BigQuery: append analytics rows, on the dataset only. Streaming inserts
# need no job permission.
resource "google_bigquery_dataset_iam_member" "analytics_editor" {
  for_each = local.function_members

  project    = var.project_id
  dataset_id = google_bigquery_dataset.analytics.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = each.value
}

# --- Builds.
resource "google_project_iam_member" "build_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.build.email}"
}

resource "google_artifact_registry_repository_iam_member" "build_writer" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.build.email}"
}

resource "google_storage_bucket_iam_member" "build_source_reader" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}

# Cloud Functions copies the source into its own gcf-v2-sources bucket, which
# it creates on first deploy (so there is no bucket to bind to yet); the
# condition confines the grant to that bucket.
resource "google_project_iam_member" "build_gcf_sources" {
  project = var.project_id
  role    = "roles/storage.objectAdmin"
  member  = "serviceAccount:${google_service_account.build.email}"

  condition {
    title       = "gcf-v2-sources only"
    description = "Function sources staged by Cloud Functions for this region."
    expression  = "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-${data.google_project.this.number}-${var.region}\")"
  }
}

# --- Storage trigger (Eventarc). The Cloud Storage service agent publishes
# to the transport topic Eventarc creates, so this grant cannot be narrowed
# to a topic we own.
resource "google_project_iam_member" "gcs_pubsub_publisher" {
  project = var.project_id
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

resource "google_project_iam_member" "trigger_event_receiver" {
  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = "serviceAccount:${google_service_account.trigger.email}"
}

# A 2nd gen function is served by a Cloud Run service of the same name;
# invoking it needs run.invoker on that service.
resource "google_cloud_run_v2_service_iam_member" "trigger_on_dataset_upload" {
  project  = var.project_id
  location = google_cloudfunctions2_function.on_dataset_upload.location
  name     = google_cloudfunctions2_function.on_dataset_upload.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.trigger.email}"
}

# --- Pub/Sub push.
resource "google_cloud_run_v2_service_iam_member" "invoker_run_batch" {
  project  = var.project_id
  location = google_cloudfunctions2_function.run_batch.location
  name     = google_cloudfunctions2_function.run_batch.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.invoker.email}"
}

resource "google_cloud_run_v2_service_iam_member" "invoker_aggregate" {
  project  = var.project_id
  location = google_cloudfunctions2_function.aggregate.location
  name     = google_cloudfunctions2_function.aggregate.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.invoker.email}"
}

# The Pub/Sub service agent mints the OIDC tokens of push and Eventarc
# deliveries. Projects created since April 2021 grant this implicitly; older
# ones need it, so it is granted on these two accounts only.
resource "google_service_account_iam_member" "pubsub_token_creator" {
  for_each = {
    invoker = google_service_account.invoker.name
    trigger = google_service_account.trigger.name
  }

  service_account_id = each.value
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

# --- API callers: named principals only.
resource "google_cloud_run_v2_service_iam_member" "api_invokers" {
  for_each = toset(var.api_invokers)

  project  = var.project_id
  location = google_cloudfunctions2_function.api.location
  name     = google_cloudfunctions2_function.api.name
  role     = "roles/run.invoker"
  member   = each.value
}
