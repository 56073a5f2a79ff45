variable "project_id" {
  description = "Google Cloud project that hosts the whole pipeline."
  type        = string
}

variable "region" {
  description = "Region of the functions, the buckets, the Artifact Registry repository and the storage trigger."
  type        = string
  default     = "us-central1"
}

variable "vertex_location" {
  description = "Vertex AI location of the Gemini calls (PROMPTML_LOCATION). global by default: the default models (gemini-3.1-flash-lite, gemini-3.8-flash) are served on the global endpoint and the us/eu multi-regions, not in single regions (shared/config/models.yaml)."
  type        = string
  default     = "global"
}

variable "embedding_location" {
  description = "Vertex AI region of the embedding calls of the semantic_similarity metric (PROMPTML_EMBEDDING_LOCATION)."
  type        = string
  default     = "us-central1"
}

variable "allowed_llm_providers" {
  description = "Providers a run of this deployment may name (PROMPTML_ALLOWED_PROVIDERS): vertex (Gemini on Vertex AI) and/or openai (the endpoints of openai_endpoints only). A run naming another one fails at its intake."
  type        = list(string)
  default     = ["vertex"]

  validation {
    condition     = length(var.allowed_llm_providers) > 0 && alltrue([for p in var.allowed_llm_providers : contains(["vertex", "openai"], p)])
    error_message = "allowed_llm_providers must list vertex and/or openai (sim is the local cloud's simulator)."
  }
}

variable "openai_endpoints" {
  description = "OpenAI-compatible endpoints runs may use with provider openai (PROMPTML_OPENAI_ENDPOINTS): base_url as the run config names it, and api_key_secret, the Secret Manager secret (in this project, created by you) holding its key, or \"\" for none. A key is only ever sent to its own base_url; runs cannot name keys."
  type = list(object({
    base_url        = string
    api_key_secret  = optional(string, "")
    api_key_version = optional(string, "latest")
  }))
  default = []

  validation {
    condition     = alltrue([for e in var.openai_endpoints : can(regex("^https?://[^/?#]+", e.base_url))])
    error_message = "Each openai_endpoints base_url must be an http(s) URL."
  }
}

variable "cli_users" {
  description = "IAM principals (user:, group:) allowed to impersonate the promptml-cli service account, which may call the API: the CLI's --impersonate-service-account. docs/deploy.md also shows the one gcloud command that grants it."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.cli_users : can(regex("^(user|group|serviceAccount|domain|principal|principalSet):.+", m)) && !can(regex("(?i)^all(authenticated)?users$|public:all", m))])
    error_message = "Each cli_users entry must be a prefixed IAM principal such as user:alice@example.com; public principals are not accepted."
  }
}

variable "iam_propagation_wait" {
  description = "How long the first apply waits after granting the Eventarc and Pub/Sub service agents their roles before it creates the storage trigger (IAM changes take minutes to propagate). Later applies do not wait again."
  type        = string
  default     = "120s"
}

variable "firestore_retention_days" {
  description = "Firestore deletes a run's events and the upload dedupe records this many days after they were written (TTL policies on expire_at, firestore.tf; deletion typically happens within a day after expiry). At least 2, so that a storage event's redeliveries (up to 24 h) still find their upload record. Runs, prompts, phases and epochs are kept."
  type        = number
  default     = 90

  validation {
    condition     = var.firestore_retention_days >= 2
    error_message = "firestore_retention_days must be at least 2 (upload records dedupe storage events redelivered for up to a day)."
  }
}

variable "llm_provider" {
  description = "Default LLM provider of the functions (PROMPTML_LLM_PROVIDER): vertex in the cloud; sim is the offline simulator (no Gemini cost). A run's config (primary.provider, optimizer.model.provider) still chooses per run."
  type        = string
  default     = "vertex"

  validation {
    condition     = contains(["vertex", "sim"], var.llm_provider)
    error_message = "llm_provider must be vertex or sim."
  }
}

variable "source_archive" {
  description = "Path of the function source zip built by scripts/package.sh (git archive of HEAD). Its SHA-256 names the uploaded object, so a code change redeploys."
  type        = string
}

variable "datasets_bucket" {
  description = "Name of the datasets bucket (CSV uploads start runs). Empty means <project_id>-promptml-datasets."
  type        = string
  default     = ""
}

variable "artifacts_bucket" {
  description = "Name of the artifacts bucket (splits, results, exports). Empty means <project_id>-promptml-artifacts."
  type        = string
  default     = ""
}

variable "source_bucket" {
  description = "Name of the bucket holding function source zips. Empty means <project_id>-promptml-source."
  type        = string
  default     = ""
}

variable "artifacts_retention_days" {
  description = "Objects under runs/ in the artifacts bucket are deleted after this many days. Prompts and scores stay in Firestore and BigQuery."
  type        = number
  default     = 30
}

variable "llm_cache_retention_days" {
  description = "Cached LLM replies (cache/llm/ in the artifacts bucket) are deleted this many days after they were written; a later identical call is paid for again and re-cached."
  type        = number
  default     = 90
}

variable "datasets_noncurrent_retention_days" {
  description = "Overwritten or deleted dataset versions are kept this many days (the datasets bucket is versioned)."
  type        = number
  default     = 30
}

variable "firestore_database" {
  description = "Firestore database id (PROMPTML_FIRESTORE_DATABASE). A project has at most one (default) database: import it if it already exists."
  type        = string
  default     = "(default)"
}

variable "firestore_location" {
  description = "Firestore location, e.g. nam5 (multi-region, United States) or a region such as us-central1."
  type        = string
  default     = "nam5"
}

variable "bigquery_dataset" {
  description = "BigQuery dataset id for the analytics tables and views."
  type        = string
  default     = "promptml"
}

variable "bigquery_location" {
  description = "BigQuery dataset location."
  type        = string
  default     = "US"
}

variable "analytics_enabled" {
  description = "Whether the functions append analytics rows to BigQuery. false leaves PROMPTML_BIGQUERY_DATASET empty (the dataset is still created)."
  type        = bool
  default     = true
}

variable "api_invokers" {
  description = "IAM principals allowed to call the API function with an identity token, e.g. [\"user:alice@example.com\", \"group:ml@example.com\"]. The API has no public invoker."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.api_invokers : can(regex("^(user|group|serviceAccount|domain|principal|principalSet):.+", m)) && !can(regex("(?i)^all(authenticated)?users$|public:all", m))])
    error_message = "Each api_invokers entry must be a prefixed IAM principal such as user:alice@example.com; public principals (anyone, any Google account, principalSet public:all) are not accepted."
  }
}

variable "deletion_protection" {
  description = "Protects the Firestore database, the BigQuery tables and non-empty buckets from terraform destroy. Set false (and apply) before tearing down."
  type        = bool
  default     = true
}

variable "max_delivery_attempts" {
  description = "Deliveries of one Pub/Sub message before it goes to the dead-letter topic (5..100). A 429 from a function at max instances counts as an attempt, so keep this generous; with 10 s..600 s backoff, 30 attempts span about four hours."
  type        = number
  default     = 30

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100."
  }
}

# Function sizing. Quota arithmetic (docs/deploy.md, "Gemini quota"): Gemini
# calls in flight <= run_batch.max_instances x run_batch.concurrency x the
# run's limits.concurrency (primary calls per batch, default 8), plus
# aggregate.max_instances x aggregate.concurrency optimizer calls. With the
# defaults: 4 x 1 x 8 + 2 x 1 = 34 calls in flight, about 34 x 60 / 4 s = 510
# requests per minute at a 4 s average latency.

variable "on_dataset_upload" {
  description = "OnDatasetUpload sizing: validates and splits an uploaded CSV, no LLM calls. Event-driven functions time out after at most 540 s."
  type = object({
    memory          = optional(string, "1Gi")
    cpu             = optional(string, "1")
    timeout_seconds = optional(number, 540)
    max_instances   = optional(number, 3)
    concurrency     = optional(number, 1)
  })
  default = {}

  validation {
    condition     = var.on_dataset_upload.timeout_seconds >= 1 && var.on_dataset_upload.timeout_seconds <= 540
    error_message = "on_dataset_upload.timeout_seconds must be 1..540 (the limit of event-driven functions)."
  }
}

variable "api" {
  description = "API sizing: HTTP, Firestore reads and writes, no LLM calls, so one instance serves many requests at once."
  type = object({
    memory          = optional(string, "512Mi")
    cpu             = optional(string, "1")
    timeout_seconds = optional(number, 60)
    max_instances   = optional(number, 3)
    concurrency     = optional(number, 20)
  })
  default = {}
}

variable "run_batch" {
  description = "RunBatch sizing: one batch of primary-LLM calls and scoring per request. max_instances x concurrency x the run's limits.concurrency bounds Gemini calls in flight (4 x 1 x 8 = 32 by default). timeout_seconds is also the push subscription's ack deadline, so at most 600."
  type = object({
    memory          = optional(string, "512Mi")
    cpu             = optional(string, "1")
    timeout_seconds = optional(number, 300)
    max_instances   = optional(number, 4)
    concurrency     = optional(number, 1)
  })
  default = {}

  validation {
    condition     = var.run_batch.timeout_seconds >= 10 && var.run_batch.timeout_seconds <= 600
    error_message = "run_batch.timeout_seconds must be 10..600: Pub/Sub caps the push ack deadline at 600 s."
  }
}

variable "aggregate" {
  description = "Aggregate sizing: fan-in, optimizer (one Gemini call at a time per request), gate, next phase. timeout_seconds is also the push subscription's ack deadline, so at most 600."
  type = object({
    memory          = optional(string, "512Mi")
    cpu             = optional(string, "1")
    timeout_seconds = optional(number, 540)
    max_instances   = optional(number, 2)
    concurrency     = optional(number, 1)
  })
  default = {}

  validation {
    condition     = var.aggregate.timeout_seconds >= 10 && var.aggregate.timeout_seconds <= 600
    error_message = "aggregate.timeout_seconds must be 10..600: Pub/Sub caps the push ack deadline at 600 s."
  }
}
