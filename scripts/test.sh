#!/usr/bin/env bash
# Runs every module's tests with the race detector, then every fuzz target
# for $FUZZTIME each (go test runs one fuzz target at a time): 2000
# inputs by default, or a duration such as 5m.
# Usage: scripts/test.sh MODULE... ; FUZZ_ONLY=1 skips the unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# A count (Nx), not a duration, by default: on a loaded machine a short
# duration can run out while the seed corpus is still being measured, and Go
# then fails the target with "context deadline exceeded".
fuzztime="${FUZZTIME:-2000x}"
failed=()

# need CMD PACKAGE...: installs the Debian packages when CMD is missing
# (as root with apt), and stops any service they start: tests run their
# own throwaway servers.
need() {
  local cmd=$1 service=${2:-}
  shift
  command -v "$cmd" >/dev/null 2>&1 && return
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "$cmd not found: install it (sudo apt-get install -y $*) and run again" >&2
    exit 1
  fi
  echo "=== installing $*"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  if [ -d /run/systemd/system ]; then
    systemctl disable --now "$service" >/dev/null 2>&1 || true
  else
    { service "$service" stop; update-rc.d "$service" disable; } >/dev/null 2>&1 || true
  fi
}

# Tests start their own throwaway redis-server per test (pkg/redistest), so
# only the binary is needed.
need redis-server redis-server

# promtool runs the alert rules' unit tests (deployments); with
# KEYCARD_REQUIRE_PROMTOOL=1 a missing one fails rather than skips.
if [ -z "${FUZZ_ONLY:-}" ]; then
  need promtool prometheus
  export KEYCARD_REQUIRE_PROMTOOL=1
fi

# provctl simulate's HTML report is loaded in headless Chromium; with
# KEYCARD_REQUIRE_CHROMIUM=1 a missing one fails rather than skips.
if [ -z "${FUZZ_ONLY:-}" ]; then
  need chromium chromium
  export KEYCARD_REQUIRE_CHROMIUM=1
fi

# The SCIM interop test runs a third-party SCIM server (SCIMMY, Node) from
# pkg/scim/interop/scimmy; with KEYCARD_REQUIRE_INTEROP=1 it fails rather
# than skips when node or the packages are missing. SCIMMY needs Node >= 16.
if [ -z "${FUZZ_ONLY:-}" ]; then
  need node nodejs npm
  echo "=== npm ci in pkg/scim/interop/scimmy"
  (cd pkg/scim/interop/scimmy && npm ci --no-audit --no-fund --loglevel=error)
  export KEYCARD_REQUIRE_INTEROP=1
fi

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
  pkg=".${dir#"$mod"}" # "." for the module root, else "./sub/dir"
  (cd "$mod" && go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$pkg") || failed+=("$dir $name")
done < <(grep -rHoE --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' "$@" | sed -E 's/:func / /' | sort)

if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "all tests passed"
