locals {
  # Every API the deployment touches. Compute is not needed: nothing here
  # creates VMs or networks.
  apis = toset([
    "aiplatform.googleapis.com",           # Gemini on Vertex AI
    "artifactregistry.googleapis.com",     # function images
    "bigquery.googleapis.com",             # analytics tables
    "cloudbuild.googleapis.com",           # function builds
    "cloudfunctions.googleapis.com",       # the four functions
    "cloudresourcemanager.googleapis.com", # project IAM
    "eventarc.googleapis.com",             # OnDatasetUpload's storage trigger
    "firestore.googleapis.com",            # run state
    "iam.googleapis.com",                  # service accounts
    "iamcredentials.googleapis.com",       # OIDC tokens for push delivery
    "logging.googleapis.com",              # build and function logs
    "pubsub.googleapis.com",               # batch fan-out
    "run.googleapis.com",                  # functions run on Cloud Run
    "secretmanager.googleapis.com",        # API keys of allowed openai endpoints
    "storage.googleapis.com",              # buckets
  ])
}

resource "google_project_service" "apis" {
  for_each = local.apis

  project = var.project_id
  service = each.value
  # Destroying this deployment must not switch APIs off for everything else
  # in the project (also the provider 7.x default; stated for the reader).
  disable_on_destroy = false
}
