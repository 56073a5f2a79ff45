#!/usr/bin/env bash
# Deploys promptml to Google Cloud with Terraform (docs/deploy.md).
#
# Usage: PROJECT=my-project bash scripts/deploy.sh      (make deploy PROJECT=my-project)
# Env:
#   PROJECT         Google Cloud project id (required)
#   REGION          functions/buckets region (default us-central1)
#   SOURCE_ARCHIVE  an already built zip; default: build one with scripts/package.sh
#   TF_APPLY_ARGS   extra `terraform apply` arguments, e.g. "-auto-approve"
#                   or "-var-file=prod.tfvars" (terraform/terraform.tfvars is
#                   read automatically)
set -euo pipefail

: "${PROJECT:?set PROJECT to the Google Cloud project id, e.g. make deploy PROJECT=my-project}"
REGION="${REGION:-us-central1}"

root="$(git rev-parse --show-toplevel)"
if ! command -v terraform >/dev/null 2>&1; then
  echo "deploy: terraform (>= 1.5) is not on PATH; see docs/deploy.md#prerequisites" >&2
  exit 1
fi

zip="${SOURCE_ARCHIVE:-$(bash "$root/scripts/package.sh")}"
if [ ! -f "$zip" ]; then
  echo "deploy: source archive $zip does not exist" >&2
  exit 1
fi
zip="$(cd "$(dirname "$zip")" && pwd)/$(basename "$zip")"

tf=(terraform -chdir="$root/terraform")
"${tf[@]}" init -input=false
# shellcheck disable=SC2086 # TF_APPLY_ARGS is a list of arguments on purpose
"${tf[@]}" apply -input=false \
  -var "project_id=$PROJECT" \
  -var "region=$REGION" \
  -var "source_archive=$zip" \
  ${TF_APPLY_ARGS:-}
