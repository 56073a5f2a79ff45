locals {
  datasets_bucket  = coalesce(var.datasets_bucket, "${var.project_id}-promptml-datasets")
  artifacts_bucket = coalesce(var.artifacts_bucket, "${var.project_id}-promptml-artifacts")
  source_bucket    = coalesce(var.source_bucket, "${var.project_id}-promptml-source")
}

# Users drop <name>.csv (+ <name>.yaml) here; each finalized object fires
# OnDatasetUpload. Regional, in the trigger's region, as Eventarc requires.
resource "google_storage_bucket" "datasets" {
  project                     = var.project_id
  name                        = local.datasets_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  # A run records the object generation it read; versioning keeps that
  # generation readable when a user uploads a new file under the same name.
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.datasets_noncurrent_retention_days
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

# Everything the pipeline writes. A separate bucket, so that writing artifacts
# never fires the upload trigger.
resource "google_storage_bucket" "artifacts" {
  project                     = var.project_id
  name                        = local.artifacts_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  # Shards and results are rewritten and thrown away in bulk; soft delete
  # would only bill for them a week longer.
  soft_delete_policy {
    retention_duration_seconds = 0
  }

  lifecycle_rule {
    condition {
      age            = var.artifacts_retention_days
      matches_prefix = ["runs/"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age            = var.llm_cache_retention_days
      matches_prefix = ["cache/"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  depends_on = [google_project_service.apis]
}

# Function source zips. Objects are named by content hash; Terraform replaces
# (and so deletes) the previous one when the code changes.
resource "google_storage_bucket" "source" {
  project                     = var.project_id
  name                        = local.source_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_object" "source" {
  name   = "promptml-${filesha256(var.source_archive)}.zip"
  bucket = google_storage_bucket.source.name
  source = var.source_archive
}
