#!/usr/bin/env bash
# Checks the files under deploy/ on files alone — no Docker engine, no cluster:
#   - yamllint (strict) over every YAML file;
#   - every ROSTERHUB_* name the files set is one RosterHub reads (a string in src/);
#   - the Kubernetes PrometheusRule carries exactly deploy/prometheus/rules.yml;
#   - `promtool check config`, `check rules`, `test rules` (one unit test per alert), and every
#     Grafana panel expression parsed by promtool as a recording rule;
#   - `kubectl kustomize` of each overlay through kubernetes-validate --strict (its offline
#     schemas); the ServiceMonitor and PrometheusRule, which it cannot know, are checked apart:
#     their presence, and the rule body with promtool;
#   - deploy/compose.yaml against the Compose specification's schema (deploy/schema/).
# Installs what it lacks: Debian's `prometheus` (promtool) and, in a venv under target/,
# kubernetes-validate, yamllint and check-jsonschema. `--fix` rewrites the generated
# PrometheusRule from rules.yml instead of failing on a difference.
# That every metric the dashboards and alerts name is exposed: tests/it/metrics_coverage.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

venv=target/deploy-check
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step() { printf '== %s\n' "$*"; }
fail() {
  printf 'check-deploy: %s\n' "$*" >&2
  exit 1
}

step "tools"
if ! command -v promtool >/dev/null; then
  command -v apt-get >/dev/null || fail "promtool is missing: install Debian's prometheus package"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends prometheus) >/dev/null
fi
command -v kubectl >/dev/null || fail "kubectl is missing (it runs kustomize)"
if [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -x "$venv/bin/yamllint" ] \
  || [ ! -x "$venv/bin/check-jsonschema" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check \
    kubernetes-validate==1.37.0 yamllint==1.38.0 check-jsonschema==0.39.0
fi
py="$venv/bin/python"

step "yamllint"
"$venv/bin/yamllint" --strict -c deploy/yamllint.yml deploy

step "ROSTERHUB_* names are RosterHub's"
unknown=0
for name in $(grep -rhoE 'ROSTERHUB_[A-Z0-9_]+' deploy | sort -u); do
  if ! grep -rqF "\"$name\"" src; then
    echo "deploy/ sets $name, which RosterHub does not read:" >&2
    grep -rn "$name" deploy >&2
    unknown=1
  fi
done
[ "$unknown" = 0 ] || fail "unknown ROSTERHUB_* names (see rosterhub serve --help)"

step "PrometheusRule = deploy/prometheus/rules.yml"
rule=deploy/k8s/base/prometheusrule.yaml
"$py" scripts/check-deploy.py prometheusrule deploy/prometheus/rules.yml >"$work/rule.yaml"
if ! cmp -s "$work/rule.yaml" "$rule"; then
  if [ "${1:-}" = "--fix" ]; then
    cp "$work/rule.yaml" "$rule"
    echo "rewrote $rule"
  else
    diff -u "$rule" "$work/rule.yaml" >&2 || true
    fail "$rule differs from deploy/prometheus/rules.yml: run scripts/check-deploy.sh --fix"
  fi
fi

step "promtool"
promtool check config deploy/prometheus/prometheus.yml
(cd deploy/prometheus && promtool test rules tests.yml)
"$py" scripts/check-deploy.py dashboards deploy/grafana/dashboards "$work/dashboards.yml"
promtool check rules "$work/dashboards.yml"

for overlay in deploy/k8s/overlays/*/; do
  name=$(basename "$overlay")
  step "kustomize $name | kubernetes-validate --strict"
  kubectl kustomize "$overlay" >"$work/$name.yaml"
  "$py" scripts/check-deploy.py split "$work/$name.yaml" "$work/$name-core.yaml" \
    "$work/$name-rules.yml"
  "$venv/bin/kubernetes-validate" --strict --quiet "$work/$name-core.yaml"
  promtool check rules "$work/$name-rules.yml"
done

step "compose.yaml against the Compose specification"
"$venv/bin/check-jsonschema" --schemafile deploy/schema/compose-spec.json deploy/compose.yaml

echo "deploy/ checked in $((SECONDS - started)) s"
