terraform {
  # optional() attribute defaults in variables.tf need Terraform >= 1.3; the
  # project supports 1.5 and later.
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
    # google_project_service_identity (the Pub/Sub and Eventarc service
    # agents, created before they are bound) exists in the beta provider only.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 7.0"
    }
    # time_sleep: IAM grants to a new service agent take a while to
    # propagate (terraform-provider-google issues 14584 and 25294).
    time = {
      source  = "hashicorp/time"
      version = "~> 0.13"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

provider "google-beta" {
  project = var.project_id
  region  = var.region
}
