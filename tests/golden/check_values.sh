#!/usr/bin/env bash
# Compares the values files of `flavourgraph render` with those of the independent oracle
# (values_oracle.py, PyYAML's own yaml.dump): same file names, same bytes.
#
#   check_values.sh FLAVOURGRAPH_BINARY DEPLOYMENTS REPORT REGISTRY [extra args, e.g. --clusters a,b]
#
# Extra args (--clusters, --stage, --scope) go to both sides. Exit 0 when identical, 1 on any
# difference (printed), 2 on bad usage or when either side fails or writes no file.
#
# Examples (from the repository root, fixtures in /work/shared/fixtures):
#   tests/golden/check_values.sh build/flavourgraph FIXTURES/deployments-mapping-form.yaml \
#       tests/golden/report-example.json docker-registry.discovery.wmnet --clusters eqiad,codfw
# report-tricky.json exercises PyYAML's quoting (php versions "8", "8.1" and "yes"; a line over
# 80 characters; metadata keys other than php_version; a webserver flavour with php_version,
# which must not be used). Its images are under the registry "r.example.org:5000"; run with
# another registry, the report is first moved under that one (render refuses a registry the
# report's images are not under), and a registry such as "5000" or "on" tests the quoting of
# docker.registry:
#   tests/golden/check_values.sh build/flavourgraph FIXTURES/deployments-mapping-form.yaml \
#       tests/golden/report-tricky.json r.example.org:5000 --clusters eqiad,codfw
# It also has the flavours exciting-new-mediawiki (php_version "yes") and exciting-new-webserver,
# so the fixture whose api3/migration release names them renders with it too.
set -euo pipefail

if [ $# -lt 4 ]; then
  echo "usage: $0 FLAVOURGRAPH_BINARY DEPLOYMENTS REPORT REGISTRY [extra args]" >&2
  exit 2
fi
binary=$1 deployments=$2 report=$3 registry=$4
shift 4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
expected=$work/oracle actual=$work/flavourgraph
mkdir "$expected" "$actual"

fail() { echo "check_values: $*" >&2; exit 2; }

# The report's images under REGISTRY (report-tricky.json's are under r.example.org:5000).
if [ "$registry" != "r.example.org:5000" ] && grep -q '"r.example.org:5000/' "$report"; then
  sed "s#\"r.example.org:5000/#\"$registry/#g" "$report" > "$work/report.json"
  report=$work/report.json
fi

python3 "$here/values_oracle.py" --deployments "$deployments" --report "$report" \
  --registry "$registry" --out "$expected" "$@" || fail "the oracle failed (status $?)"
"$binary" render -d "$deployments" --report "$report" --registry "$registry" \
  --values-dir "$actual" "$@" || fail "$binary render failed (status $?)"

[ -n "$(ls -A "$expected")" ] || fail "the oracle wrote no file"
[ -n "$(ls -A "$actual")" ] || fail "$binary render wrote no file"

if ! diff -r "$expected" "$actual"; then
  echo "check_values: FAIL: values files differ (< oracle, > flavourgraph)" >&2
  exit 1
fi
files=("$expected"/*)
echo "check_values: OK: ${#files[@]} values files identical"
