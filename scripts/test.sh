#!/usr/bin/env bash
# Runs every module's tests with the race detector, then every fuzz target
# for $FUZZTIME each (go test runs one fuzz target at a time).
# Usage: scripts/test.sh MODULE... ; FUZZ_ONLY=1 skips the unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-5s}"
failed=()

if [ -z "${FUZZ_ONLY:-}" ]; then
  for m in "$@"; do
    echo "=== go test -race ./... in $m"
    (cd "$m" && go test -race -count=1 ./...) || failed+=("$m")
  done
fi

# Fuzz targets: "pkgdir FuzzName" for every func Fuzz* in a _test.go file.
while read -r file name; do
  dir=$(dirname "$file")
  mod=$dir
  while [ ! -f "$mod/go.mod" ]; do mod=$(dirname "$mod"); done
  echo "=== fuzz $name in ./$dir for $fuzztime"
  (cd "$mod" && go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "./${dir#"$mod"/}") || failed+=("$dir $name")
done < <(grep -rHoE --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' "$@" | sed -E 's/:func / /' | sort)

if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "all tests passed"
