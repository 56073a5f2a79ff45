output "api_url" {
  description = "Base URL of the API function (send an identity token of a principal in api_invokers)."
  value       = google_cloudfunctions2_function.api.service_config[0].uri
}

output "cli_service_account" {
  description = "Service account the CLI impersonates to call the API: promptml --impersonate-service-account (or PROMPTML_IMPERSONATE_SERVICE_ACCOUNT). Principals in cli_users may impersonate it."
  value       = google_service_account.cli.email
}

output "datasets_bucket" {
  description = "Upload <name>.csv (and optional <name>.yaml) here to start a run."
  value       = google_storage_bucket.datasets.name
}

output "artifacts_bucket" {
  description = "Splits, per-example results and exports."
  value       = google_storage_bucket.artifacts.name
}

output "bigquery_dataset" {
  description = "Analytics dataset for Looker Studio."
  value       = google_bigquery_dataset.analytics.dataset_id
}

output "report_url_command" {
  description = "Prints a Looker Studio link bound to the analytics tables."
  value       = "promptml report-url --project ${var.project_id} --dataset ${google_bigquery_dataset.analytics.dataset_id}"
}

output "function_names" {
  description = "Deployed functions by entry point."
  value = {
    OnDatasetUpload = google_cloudfunctions2_function.on_dataset_upload.name
    API             = google_cloudfunctions2_function.api.name
    RunBatch        = google_cloudfunctions2_function.run_batch.name
    Aggregate       = google_cloudfunctions2_function.aggregate.name
  }
}

output "dead_letter_subscriptions" {
  description = "Pull these to inspect messages that exhausted their delivery attempts."
  value = [
    google_pubsub_subscription.batches_dead_letter.name,
    google_pubsub_subscription.phase_done_dead_letter.name,
  ]
}

output "source_object" {
  description = "Source zip the functions were built from (its name carries the SHA-256)."
  value       = "gs://${google_storage_bucket.source.name}/${google_storage_bucket_object.source.name}"
}
