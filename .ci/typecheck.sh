#!/usr/bin/env bash
# mypy cannot follow setuptools' editable-install finder, which maps the role folders (core/,
# collectors/, ...) to ci_profile.* subpackages. Lay the same mapping out as symlinks and
# type-check that tree, so imports resolve exactly as they do at run time.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/ci_profile"
for file in "$root"/ci_profile/*.py; do ln -s "$file" "$tree/ci_profile/"; done
for role in core collectors analysis migrate dashboard; do ln -s "$root/$role" "$tree/ci_profile/$role"; done
cd "$tree"
mypy --config-file "$root/pyproject.toml" -p ci_profile "$@" | sed "s#^ci_profile/#<ci_profile>/#"
exit "${PIPESTATUS[0]}"
