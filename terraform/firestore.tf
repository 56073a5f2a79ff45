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

# GET /runs?status=… lists runs of one status, newest first. The other
# queries (events by time, prompts by epoch, done batches of a phase) use
# Firestore's automatic single-field indexes.
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
