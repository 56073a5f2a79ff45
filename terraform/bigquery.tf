# Append-only analytics for Looker Studio. The schemas mirror the row types
# of shared/analytics (terraform_test.go compares them): change both together.
# Types use BigQuery's legacy names (FLOAT, INTEGER), the ones the API returns,
# so the provider sees no schema diff after apply.

locals {
  analytics_tables = {
    runs = {
      description = "One row per change of a run."
      key         = ["run_id"]
      latest_by   = "updated_at DESC, inserted_at DESC"
      schema = [
        { name = "run_id", type = "STRING", mode = "NULLABLE" },
        { name = "status", type = "STRING", mode = "NULLABLE" },
        { name = "dataset_uri", type = "STRING", mode = "NULLABLE" },
        { name = "created_at", type = "TIMESTAMP", mode = "NULLABLE" },
        { name = "updated_at", type = "TIMESTAMP", mode = "NULLABLE" },
        { name = "epoch", type = "INTEGER", mode = "NULLABLE" },
        { name = "best_prompt_id", type = "STRING", mode = "NULLABLE" },
        { name = "initial_val_score", type = "FLOAT", mode = "NULLABLE" },
        { name = "best_val_score", type = "FLOAT", mode = "NULLABLE" },
        { name = "test_score_initial", type = "FLOAT", mode = "NULLABLE" },
        { name = "test_score_best", type = "FLOAT", mode = "NULLABLE" },
        { name = "calls", type = "INTEGER", mode = "NULLABLE" },
        { name = "input_tokens", type = "INTEGER", mode = "NULLABLE" },
        { name = "output_tokens", type = "INTEGER", mode = "NULLABLE" },
        { name = "cost_usd", type = "FLOAT", mode = "NULLABLE" },
        { name = "cache_hits", type = "INTEGER", mode = "NULLABLE" },
        { name = "error", type = "STRING", mode = "NULLABLE" },
        { name = "inserted_at", type = "TIMESTAMP", mode = "NULLABLE" },
      ]
    }

    epochs = {
      description = "One row per epoch outcome (incumbent vs candidates, gate decision)."
      key         = ["run_id", "epoch"]
      latest_by   = "inserted_at DESC"
      schema = [
        { name = "run_id", type = "STRING", mode = "NULLABLE" },
        { name = "epoch", type = "INTEGER", mode = "NULLABLE" },
        { name = "incumbent_id", type = "STRING", mode = "NULLABLE" },
        { name = "candidate_ids", type = "STRING", mode = "REPEATED" },
        { name = "best_candidate_id", type = "STRING", mode = "NULLABLE" },
        { name = "incumbent_val", type = "FLOAT", mode = "NULLABLE" },
        { name = "candidate_val", type = "FLOAT", mode = "NULLABLE" },
        { name = "delta", type = "FLOAT", mode = "NULLABLE" },
        { name = "p_value", type = "FLOAT", mode = "NULLABLE" },
        { name = "decision", type = "STRING", mode = "NULLABLE" },
        { name = "calls", type = "INTEGER", mode = "NULLABLE" },
        { name = "cost_usd", type = "FLOAT", mode = "NULLABLE" },
        { name = "started_at", type = "TIMESTAMP", mode = "NULLABLE" },
        { name = "finished_at", type = "TIMESTAMP", mode = "NULLABLE" },
        { name = "inserted_at", type = "TIMESTAMP", mode = "NULLABLE" },
      ]
    }

    prompt_versions = {
      description = "One row per change of a prompt version (scores, status)."
      key         = ["run_id", "prompt_id"]
      latest_by   = "inserted_at DESC"
      schema = [
        { name = "run_id", type = "STRING", mode = "NULLABLE" },
        { name = "prompt_id", type = "STRING", mode = "NULLABLE" },
        { name = "parent_id", type = "STRING", mode = "NULLABLE" },
        { name = "epoch", type = "INTEGER", mode = "NULLABLE" },
        { name = "strategy", type = "STRING", mode = "NULLABLE" },
        { name = "system_prompt", type = "STRING", mode = "NULLABLE" },
        { name = "output_prompt", type = "STRING", mode = "NULLABLE" },
        { name = "reasoning", type = "STRING", mode = "NULLABLE" },
        { name = "train_score", type = "FLOAT", mode = "NULLABLE" },
        { name = "val_score", type = "FLOAT", mode = "NULLABLE" },
        { name = "test_score", type = "FLOAT", mode = "NULLABLE" },
        { name = "status", type = "STRING", mode = "NULLABLE" },
        { name = "inserted_at", type = "TIMESTAMP", mode = "NULLABLE" },
      ]
    }

    example_results = {
      description = "One row per example answered and scored in a phase."
      key         = ["run_id", "phase_id", "example_id"]
      latest_by   = "inserted_at DESC"
      schema = [
        { name = "run_id", type = "STRING", mode = "NULLABLE" },
        { name = "phase_id", type = "STRING", mode = "NULLABLE" },
        { name = "prompt_id", type = "STRING", mode = "NULLABLE" },
        { name = "split", type = "STRING", mode = "NULLABLE" },
        { name = "batch", type = "INTEGER", mode = "NULLABLE" },
        { name = "example_id", type = "STRING", mode = "NULLABLE" },
        { name = "user_input", type = "STRING", mode = "NULLABLE" },
        { name = "expected", type = "STRING", mode = "NULLABLE" },
        { name = "actual", type = "STRING", mode = "NULLABLE" },
        { name = "score", type = "FLOAT", mode = "NULLABLE" },
        { name = "error", type = "STRING", mode = "NULLABLE" },
        { name = "latency_ms", type = "INTEGER", mode = "NULLABLE" },
        { name = "input_tokens", type = "INTEGER", mode = "NULLABLE" },
        { name = "output_tokens", type = "INTEGER", mode = "NULLABLE" },
        { name = "cached", type = "BOOLEAN", mode = "NULLABLE" },
        { name = "inserted_at", type = "TIMESTAMP", mode = "NULLABLE" },
      ]
    }

    model_usage = {
      description = "Usage and cost by model, per phase and per epoch's optimizer calls."
      key         = ["run_id", "scope", "unit", "model"]
      latest_by   = "inserted_at DESC"
      schema = [
        { name = "run_id", type = "STRING", mode = "NULLABLE" },
        { name = "scope", type = "STRING", mode = "NULLABLE" },
        { name = "unit", type = "STRING", mode = "NULLABLE" },
        { name = "model", type = "STRING", mode = "NULLABLE" },
        { name = "calls", type = "INTEGER", mode = "NULLABLE" },
        { name = "input_tokens", type = "INTEGER", mode = "NULLABLE" },
        { name = "output_tokens", type = "INTEGER", mode = "NULLABLE" },
        { name = "errors", type = "INTEGER", mode = "NULLABLE" },
        { name = "cache_hits", type = "INTEGER", mode = "NULLABLE" },
        { name = "cost_usd", type = "FLOAT", mode = "NULLABLE" },
        { name = "cached_input_tokens", type = "INTEGER", mode = "NULLABLE" },
        { name = "thinking_tokens", type = "INTEGER", mode = "NULLABLE" },
        { name = "inserted_at", type = "TIMESTAMP", mode = "NULLABLE" },
      ]
    }
  }
}

resource "google_bigquery_dataset" "analytics" {
  project                    = var.project_id
  dataset_id                 = var.bigquery_dataset
  location                   = var.bigquery_location
  description                = "promptml analytics: append-only tables and *_latest views for Looker Studio."
  delete_contents_on_destroy = !var.deletion_protection

  depends_on = [google_project_service.apis]
}

# Partitioned by insert day (reports filter on recent runs; old partitions
# cost nothing to skip) and clustered by run, the filter of every chart.
resource "google_bigquery_table" "analytics" {
  for_each = local.analytics_tables

  project             = var.project_id
  dataset_id          = google_bigquery_dataset.analytics.dataset_id
  table_id            = each.key
  description         = each.value.description
  deletion_protection = var.deletion_protection
  schema              = jsonencode(each.value.schema)
  clustering          = ["run_id"]

  time_partitioning {
    type  = "DAY"
    field = "inserted_at"
  }
}

# Rows are snapshots; these views keep the newest snapshot per key, which also
# hides duplicates that BigQuery's best-effort de-duplication let through.
resource "google_bigquery_table" "latest" {
  for_each = local.analytics_tables

  project             = var.project_id
  dataset_id          = google_bigquery_dataset.analytics.dataset_id
  table_id            = "${each.key}_latest"
  description         = "Newest row of ${each.key} per ${join(" + ", each.value.key)}."
  deletion_protection = var.deletion_protection

  view {
    use_legacy_sql = false
    query          = <<-SQL
      SELECT * EXCEPT (row_num)
      FROM (
        SELECT
          *,
          ROW_NUMBER() OVER (
            PARTITION BY ${join(", ", each.value.key)}
            ORDER BY ${each.value.latest_by}
          ) AS row_num
        FROM `${google_bigquery_table.analytics[each.key].project}.${google_bigquery_table.analytics[each.key].dataset_id}.${google_bigquery_table.analytics[each.key].table_id}`
      )
      WHERE row_num = 1
    SQL
  }
}
