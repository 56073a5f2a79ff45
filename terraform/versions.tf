terraform {
  # optional() attribute defaults in variables.tf need Terraform >= 1.3; the
  # project supports 1.5 and later.
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
