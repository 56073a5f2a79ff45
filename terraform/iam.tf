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

# Google-managed service agents are created lazily, on a service's first use;
# binding one before it exists fails with "Service account ... does not
# exist". These resources create them (no-ops when they exist) and give the
# bindings below their e-mails, so every grant follows its agent's creation.
resource "google_project_service_identity" "pubsub" {
  provider = google-beta

  project = var.project_id
  service = "pubsub.googleapis.com"

  depends_on = [google_project_service.apis]
}

resource "google_project_service_identity" "eventarc" {
  provider = google-beta

  project = var.project_id
  service = "eventarc.googleapis.com"

  depends_on = [google_project_service.apis]
}

locals {
  pubsub_agent   = "serviceAccount:${google_project_service_identity.pubsub.email}"
  eventarc_agent = "serviceAccount:${google_project_service_identity.eventarc.email}"

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

# POST /runs with a file (the CLI's `promptml run FILE.csv`, the dashboard's
# form) writes the CSV and its sidecar to the datasets bucket
# (shared/pipeline/upload.go). Each upload gets a new object name
# (uploads/<time>-<random>/...), so create is all it needs: no overwrite, no
# delete.
resource "google_storage_bucket_iam_member" "datasets_api_creator" {
  bucket = google_storage_bucket.datasets.name
  role   = "roles/storage.objectCreator"
  member = local.function_members.api
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

# Eventarc's own agent needs its role before the storage trigger is created
# ("Permission denied while using the Eventarc Service Agent"). It is
# normally granted when the agent is created; granting it here makes it part
# of the ordering below.
resource "google_project_iam_member" "eventarc_agent" {
  project = var.project_id
  role    = "roles/eventarc.serviceAgent"
  member  = local.eventarc_agent
}

# IAM changes take minutes to propagate, and a new project's first trigger
# fails until they have (terraform-provider-google issues 14584 and 25294:
# the agents are created, their grants applied, and the trigger still meets
# a denial). The upload function, whose trigger this is, waits here after
# every grant the trigger depends on.
resource "time_sleep" "iam_propagation" {
  create_duration = var.iam_propagation_wait

  depends_on = [
    google_project_iam_member.eventarc_agent,
    google_project_iam_member.gcs_pubsub_publisher,
    google_project_iam_member.trigger_event_receiver,
    google_service_account_iam_member.pubsub_token_creator,
  ]
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

# --- The CLI. A user logged in with `gcloud auth application-default
# login` cannot mint an ID token for the API from those credentials; the CLI
# impersonates this account instead (--impersonate-service-account), which
# may invoke the API and nothing else. var.cli_users may impersonate it.
resource "google_service_account" "cli" {
  project      = var.project_id
  account_id   = "promptml-cli"
  display_name = "promptml CLI"
  description  = "Impersonated by the promptml CLI's users to call the API with an ID token."

  depends_on = [google_project_service.apis]
}

resource "google_cloud_run_v2_service_iam_member" "cli_invoker" {
  project  = var.project_id
  location = google_cloudfunctions2_function.api.location
  name     = google_cloudfunctions2_function.api.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.cli.email}"
}

resource "google_service_account_iam_member" "cli_token_creator" {
  for_each = toset(var.cli_users)

  service_account_id = google_service_account.cli.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = each.value
}

# --- API keys of the allowed openai endpoints: only the functions that call
# models read them, each secret bound on its own (the operator creates the
# secrets; their values never pass through Terraform).
resource "google_secret_manager_secret_iam_member" "openai_key_reader" {
  for_each = {
    for pair in setproduct(keys(local.openai_key_secrets), ["run_batch", "aggregate"]) :
    "${pair[0]}/${pair[1]}" => { secret = local.openai_key_secrets[pair[0]], member = local.function_members[pair[1]] }
  }

  project   = var.project_id
  secret_id = each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value.member

  depends_on = [google_project_service.apis]
}
