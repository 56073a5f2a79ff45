#!/usr/bin/env bash
# Builds the Cloud Functions source zip: a `git archive` of HEAD (the module
# root, which Cloud Functions builds), so the same commit always gives the
# same bytes. The file name carries the zip's SHA-256; Terraform names the
# uploaded object by the same hash, so a code change redeploys and an
# unchanged tree does not.
#
# Usage: bash scripts/package.sh      (make package)
# Env:   OUT_DIR  output directory (default: dist under the repository root)
# Prints the absolute path of the zip on stdout, and nothing else.
set -euo pipefail

root="$(git rev-parse --show-toplevel)"
cd "$root"

if ! git rev-parse --verify --quiet HEAD >/dev/null; then
  echo "package: no commit yet; git archive packages HEAD, so commit first" >&2
  exit 1
fi
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "package: warning: uncommitted changes are NOT in the zip (it is built from HEAD $(git rev-parse --short HEAD))" >&2
fi

out_dir="${OUT_DIR:-$root/dist}"
mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"

tmp="$(mktemp "$out_dir/.promptml-source.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
# Entries carry the commit time and come in tree order: reproducible.
git archive --format=zip --output="$tmp" HEAD

sum="$(sha256sum "$tmp" | cut -c1-64)"
zip="$out_dir/promptml-source-${sum:0:16}.zip"
mv -f "$tmp" "$zip"
trap - EXIT
echo "package: $(git rev-parse --short HEAD) -> $zip ($(wc -c <"$zip") bytes)" >&2
echo "$zip"
