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

# Tests start their own throwaway redis-server per test (pkg/redistest), so
# only the binary is needed; the Debian package's own service is stopped.
if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "redis-server not found: install it (sudo apt-get install -y redis-server) and run again" >&2
    exit 1
  fi
  echo "=== installing redis-server"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  if [ -d /run/systemd/system ]; then
    systemctl disable --now redis-server >/dev/null 2>&1 || true
  else
    { service redis-server stop; update-rc.d redis-server disable; } >/dev/null 2>&1 || true
  fi
fi

# The SCIM interop test runs a third-party SCIM server (SCIMMY, Node) from
# pkg/scim/interop/scimmy; with KEYCARD_REQUIRE_INTEROP=1 it fails rather
# than skips when node or the packages are missing. SCIMMY needs Node >= 16.
if [ -z "${FUZZ_ONLY:-}" ]; then
  if ! command -v node >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
      echo "node not found: install it (sudo apt-get install -y nodejs npm) and run again" >&2
      exit 1
    fi
    echo "=== installing nodejs and npm"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
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
