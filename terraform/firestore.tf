resource "google_firestore_database" "main" {
  project     = var.project_id
  name        = var.firestore_database
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  delete_protection_state = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  # ABANDON leaves the database (and every run's history) in place on
  # terraform destroy unless protection was switched off first.
  deletion_policy = var.deletion_protection ? "ABANDON" : "DELETE"

  depends_on = [google_project_service.apis]
}

# GET /runs?status=… lists runs of one status, newest first. Every other
# query of shared/store is served by Firestore's automatic single-field
# indexes; firestore_test.go walks them and fails when one needs a composite
# index that is not declared here.
resource "google_firestore_index" "runs_by_status" {
  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = "runs"
  query_scope = "COLLECTION"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "created_at"
    order      = "DESCENDING"
  }
}

# Retention: a run's events (runs/{run}/events) and the upload records that
# dedupe storage events (uploads/{key}) carry expire_at, written by the code
# (shared/store, PROMPTML_FIRESTORE_RETENTION = firestore_retention_days);
# Firestore deletes a document once its expire_at has passed. expire_at is
# never queried, so its single-field indexes are switched off (index_config
# {}): a monotonically increasing timestamp index is a write hot spot.
resource "google_firestore_field" "ttl" {
  for_each = toset(["events", "uploads"])

  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = each.value
  field      = "expire_at"

  ttl_config {}

  index_config {}
}
