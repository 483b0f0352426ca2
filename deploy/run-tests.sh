#!/usr/bin/env bash
# Runs Shoal's tests with Node's test runner: every *.test.ts under packages/*/src, apps/*/src,
# e2e/ and bench/ (the benchmarks' own parts), in sorted order, one file at a time (integration
# and e2e tests start real etcd members and processes). Node 20's `node --test` does not expand
# globs, hence this script.
#
#   bash deploy/run-tests.sh                       # everything
#   bash deploy/run-tests.sh apiserver watch       # only files whose path contains "apiserver" or "watch"
#   bash deploy/run-tests.sh apiserver --test-name-pattern=conflict
#                                                  # arguments starting with "-" go to node as they are
#   npm test -- apiserver                          # the same, after install-deps and the build
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

filters=()
node_args=()
for arg in "$@"; do
  case "$arg" in
    -*) node_args+=("$arg") ;;
    *) filters+=("$arg") ;;
  esac
done

roots=()
for dir in packages/*/src apps/*/src e2e bench; do
  [ -d "$dir" ] && roots+=("$dir")
done

all=()
if [ "${#roots[@]}" -gt 0 ]; then
  mapfile -d '' all < <(
    find "${roots[@]}" -name node_modules -prune -o -type f -name '*.test.ts' -print0 | LC_ALL=C sort -z
  )
fi

files=()
for f in "${all[@]}"; do
  if [ "${#filters[@]}" -eq 0 ]; then
    files+=("$f")
    continue
  fi
  for pattern in "${filters[@]}"; do
    if [[ "$f" == *"$pattern"* ]]; then
      files+=("$f")
      break
    fi
  done
done

if [ "${#all[@]}" -eq 0 ]; then
  echo "run-tests: no tests: no *.test.ts files under packages/*/src, apps/*/src, e2e/ or bench/"
  exit 0
fi
if [ "${#files[@]}" -eq 0 ]; then
  echo "run-tests: no test file path contains any of: ${filters[*]} (${#all[@]} test files in total)" >&2
  exit 1
fi

# The processes tests start run the bundles under dist/ (bin/): made from the sources as they are now.
node deploy/build-js.mjs
echo "run-tests: ${#files[@]} test file(s)"
exec node --import tsx --test --test-concurrency=1 --test-timeout=600000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=./deploy/test-file-durations.mjs --test-reporter-destination=stdout \
  "${node_args[@]}" "${files[@]}"
