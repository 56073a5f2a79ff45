locals {
  # Cloud Functions runtime id of go.mod's go directive (go 1.26 -> go126);
  # terraform_test.go fails when the two drift apart.
  go_runtime = "go126"

  # The environment every function reads (shared/serverenv).
  function_env = {
    PROMPTML_PROJECT            = var.project_id
    PROMPTML_LOCATION           = var.vertex_location
    PROMPTML_EMBEDDING_LOCATION = var.embedding_location
    PROMPTML_DATASETS_BUCKET    = google_storage_bucket.datasets.name
    PROMPTML_ARTIFACTS_BUCKET   = google_storage_bucket.artifacts.name
    PROMPTML_BATCHES_TOPIC      = google_pubsub_topic.batches.name
    PROMPTML_PHASE_DONE_TOPIC   = google_pubsub_topic.phase_done.name
    PROMPTML_FIRESTORE_DATABASE = google_firestore_database.main.name
    PROMPTML_BIGQUERY_DATASET   = var.analytics_enabled ? google_bigquery_dataset.analytics.dataset_id : ""
    PROMPTML_LLM_PROVIDER       = var.llm_provider
    # The operator's allowlist (shared/config/allowlist.go): the providers a
    # run may name, and the openai endpoints with the variable holding each
    # one's key (set from Secret Manager below, never by a run).
    PROMPTML_ALLOWED_PROVIDERS = join(",", var.allowed_llm_providers)
    PROMPTML_OPENAI_ENDPOINTS = jsonencode([for i, e in var.openai_endpoints : {
      base_url    = e.base_url
      api_key_env = e.api_key_secret == "" ? "" : "PROMPTML_OPENAI_KEY_${i}"
    }])
    # Firestore TTL of events and uploads (firestore.tf); 0 keeps them.
    PROMPTML_FIRESTORE_RETENTION = "${var.firestore_retention_days * 24}h"
    # RunBatch's model calls and their retries end 30 s before the function
    # times out, so a batch fails cleanly and Pub/Sub redelivers it.
    PROMPTML_BATCH_TIMEOUT = "${max(var.run_batch.timeout_seconds - 30, 5)}s"
  }

  # Environment variable -> Secret Manager secret (in this project) of each
  # openai endpoint with a key. Only RunBatch and Aggregate, which call the
  # models, get them.
  openai_key_secrets = {
    for i, e in var.openai_endpoints : "PROMPTML_OPENAI_KEY_${i}" => e.api_key_secret if e.api_key_secret != ""
  }
  openai_key_versions = {
    for i, e in var.openai_endpoints : "PROMPTML_OPENAI_KEY_${i}" => e.api_key_version if e.api_key_secret != ""
  }
}

# Function images go to a repository of our own, so the build account writes
# to this repository only, and old images are cleaned up.
resource "google_artifact_registry_repository" "functions" {
  project       = var.project_id
  location      = var.region
  repository_id = "promptml-functions"
  description   = "Images of the promptml Cloud Functions, built by Cloud Build."
  format        = "DOCKER"

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"

    most_recent_versions {
      keep_count = 5
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"

    condition {
      older_than = "2592000s"
    }
  }

  depends_on = [google_project_service.apis]
}

# All four functions build from the same source zip (the module root; the
# root package blank-imports every function) and differ in entry_point.

resource "google_cloudfunctions2_function" "on_dataset_upload" {
  project     = var.project_id
  name        = "promptml-on-dataset-upload"
  location    = var.region
  description = "Starts a run when a CSV lands in the datasets bucket."

  build_config {
    runtime           = local.go_runtime
    entry_point       = "OnDatasetUpload"
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = var.on_dataset_upload.memory
    available_cpu                    = var.on_dataset_upload.cpu
    timeout_seconds                  = var.on_dataset_upload.timeout_seconds
    min_instance_count               = 0
    max_instance_count               = var.on_dataset_upload.max_instances
    max_instance_request_concurrency = var.on_dataset_upload.concurrency
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.on_dataset_upload.email
    environment_variables            = local.function_env
  }

  # Eventarc delivers google.cloud.storage.object.v1.finalized for the
  # datasets bucket only. Redelivery is safe: a run is keyed on (bucket,
  # object, generation).
  event_trigger {
    trigger_region        = var.region
    event_type            = "google.cloud.storage.object.v1.finalized"
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.trigger.email

    event_filters {
      attribute = "bucket"
      value     = google_storage_bucket.datasets.name
    }
  }

  depends_on = [
    google_project_service.apis,
    # Builds need their roles before the first function is created.
    google_project_iam_member.build_log_writer,
    google_project_iam_member.build_gcf_sources,
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
    google_project_iam_member.gcs_pubsub_publisher,
    google_project_iam_member.trigger_event_receiver,
    # The Eventarc agent's grants have propagated (iam.tf).
    time_sleep.iam_propagation,
  ]
}

resource "google_cloudfunctions2_function" "api" {
  project     = var.project_id
  name        = "promptml-api"
  location    = var.region
  description = "HTTP API: start, list, inspect, cancel and export runs."

  build_config {
    runtime           = local.go_runtime
    entry_point       = "API"
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  # Reachable from the internet, but every request needs an identity token of
  # a principal in var.api_invokers (roles/run.invoker).
  service_config {
    available_memory                 = var.api.memory
    available_cpu                    = var.api.cpu
    timeout_seconds                  = var.api.timeout_seconds
    min_instance_count               = 0
    max_instance_count               = var.api.max_instances
    max_instance_request_concurrency = var.api.concurrency
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.api.email
    environment_variables            = local.function_env
  }

  depends_on = [
    google_project_service.apis,
    # Builds need their roles before the first function is created.
    google_project_iam_member.build_log_writer,
    google_project_iam_member.build_gcf_sources,
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
  ]
}

resource "google_cloudfunctions2_function" "run_batch" {
  project     = var.project_id
  name        = "promptml-run-batch"
  location    = var.region
  description = "Primary LLM and scoring for one batch of one phase (push from promptml-batches)."

  build_config {
    runtime           = local.go_runtime
    entry_point       = "RunBatch"
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  # Internal ingress still admits Pub/Sub push from this project.
  service_config {
    available_memory                 = var.run_batch.memory
    available_cpu                    = var.run_batch.cpu
    timeout_seconds                  = var.run_batch.timeout_seconds
    min_instance_count               = 0
    max_instance_count               = var.run_batch.max_instances
    max_instance_request_concurrency = var.run_batch.concurrency
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.run_batch.email
    environment_variables            = local.function_env

    dynamic "secret_environment_variables" {
      for_each = local.openai_key_secrets
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = local.openai_key_versions[secret_environment_variables.key]
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    # Builds need their roles before the first function is created.
    google_project_iam_member.build_log_writer,
    google_project_iam_member.build_gcf_sources,
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
    # A secret is read when an instance starts.
    google_secret_manager_secret_iam_member.openai_key_reader,
  ]
}

resource "google_cloudfunctions2_function" "aggregate" {
  project     = var.project_id
  name        = "promptml-aggregate"
  location    = var.region
  description = "Fan-in, optimizer, validation gate and next phase (push from promptml-phase-done)."

  build_config {
    runtime           = local.go_runtime
    entry_point       = "Aggregate"
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = var.aggregate.memory
    available_cpu                    = var.aggregate.cpu
    timeout_seconds                  = var.aggregate.timeout_seconds
    min_instance_count               = 0
    max_instance_count               = var.aggregate.max_instances
    max_instance_request_concurrency = var.aggregate.concurrency
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.aggregate.email
    environment_variables            = local.function_env

    dynamic "secret_environment_variables" {
      for_each = local.openai_key_secrets
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = local.openai_key_versions[secret_environment_variables.key]
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    # Builds need their roles before the first function is created.
    google_project_iam_member.build_log_writer,
    google_project_iam_member.build_gcf_sources,
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
    google_secret_manager_secret_iam_member.openai_key_reader,
  ]
}
