# Topic names are fixed by DESIGN.md; the functions read them from
# PROMPTML_BATCHES_TOPIC and PROMPTML_PHASE_DONE_TOPIC.
resource "google_pubsub_topic" "batches" {
  project = var.project_id
  name    = "promptml-batches"

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "phase_done" {
  project = var.project_id
  name    = "promptml-phase-done"

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "batches_dead_letter" {
  project = var.project_id
  name    = "promptml-batches-dead-letter"

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "phase_done_dead_letter" {
  project = var.project_id
  name    = "promptml-phase-done-dead-letter"

  depends_on = [google_project_service.apis]
}

# Push delivery straight to the function's Cloud Run URL. The Functions
# Framework turns the raw push body into a messagePublished CloudEvent. For
# push, the ack deadline is the HTTP request timeout, so it equals the
# function timeout: a slow batch is not redelivered while it still runs.
resource "google_pubsub_subscription" "batches" {
  project                    = var.project_id
  name                       = "promptml-batches-run-batch"
  topic                      = google_pubsub_topic.batches.id
  ack_deadline_seconds       = var.run_batch.timeout_seconds
  message_retention_duration = "604800s"

  # The topic path after the function URL is what the Functions Framework
  # reads the topic from; without it, it prints a WARNING without a newline
  # to stdout on every delivery, which breaks the next JSON log line. The
  # OIDC audience is then set explicitly to the function's URL: by default
  # it would be the whole push endpoint, path included, which Cloud Run
  # does not accept as its audience.
  push_config {
    push_endpoint = "${google_cloudfunctions2_function.run_batch.service_config[0].uri}/${google_pubsub_topic.batches.id}"

    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = google_cloudfunctions2_function.run_batch.service_config[0].uri
    }
  }

  # Back off on errors and 429s (function at max instances) instead of
  # hammering Gemini and Firestore again at once.
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.batches_dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  # Never expire: an idle pipeline must still work next month.
  expiration_policy {
    ttl = ""
  }

  depends_on = [google_cloud_run_v2_service_iam_member.invoker_run_batch]
}

resource "google_pubsub_subscription" "phase_done" {
  project                    = var.project_id
  name                       = "promptml-phase-done-aggregate"
  topic                      = google_pubsub_topic.phase_done.id
  ack_deadline_seconds       = var.aggregate.timeout_seconds
  message_retention_duration = "604800s"

  # The topic path after the function URL is what the Functions Framework
  # reads the topic from; without it, it prints a WARNING without a newline
  # to stdout on every delivery, which breaks the next JSON log line. The
  # OIDC audience is then set explicitly to the function's URL: by default
  # it would be the whole push endpoint, path included, which Cloud Run
  # does not accept as its audience.
  push_config {
    push_endpoint = "${google_cloudfunctions2_function.aggregate.service_config[0].uri}/${google_pubsub_topic.phase_done.id}"

    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = google_cloudfunctions2_function.aggregate.service_config[0].uri
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.phase_done_dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [google_cloud_run_v2_service_iam_member.invoker_aggregate]
}

# Messages published to a topic without subscriptions are lost, so each
# dead-letter topic keeps its messages in a pull subscription for inspection
# and replay (docs/deploy.md).
resource "google_pubsub_subscription" "batches_dead_letter" {
  project                    = var.project_id
  name                       = "promptml-batches-dead-letter"
  topic                      = google_pubsub_topic.batches_dead_letter.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "phase_done_dead_letter" {
  project                    = var.project_id
  name                       = "promptml-phase-done-dead-letter"
  topic                      = google_pubsub_topic.phase_done_dead_letter.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }
}

# Dead lettering is done by the Pub/Sub service agent: it must publish to the
# dead-letter topic and acknowledge on the source subscription.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = {
    batches    = google_pubsub_topic.batches_dead_letter.name
    phase_done = google_pubsub_topic.phase_done_dead_letter.name
  }

  project = var.project_id
  topic   = each.value
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = {
    batches    = google_pubsub_subscription.batches.name
    phase_done = google_pubsub_subscription.phase_done.name
  }

  project      = var.project_id
  subscription = each.value
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
