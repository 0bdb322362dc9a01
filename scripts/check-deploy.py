"""The file work of scripts/check-deploy.sh (run with the check's own Python, which has PyYAML):

  split OVERLAY_YAML CORE_OUT RULES_OUT   kustomize output → the resources Kubernetes knows
                                          (for kubernetes-validate) and the PrometheusRule bodies
                                          (for promtool); fails when a rule or monitor is missing
  dashboards DIR RULES_OUT                every panel expression of DIR/*.json as a recording rule,
                                          for `promtool check rules` to parse
  prometheusrule RULES_YML                the PrometheusRule resource made from rules.yml, on stdout
"""

import json
import pathlib
import re
import sys

import yaml


def split(overlay, core_out, rules_out):
    docs = [d for d in yaml.safe_load_all(open(overlay, encoding="utf-8")) if d]
    core = [d for d in docs if not d["apiVersion"].startswith("monitoring.coreos.com/")]
    kinds = {d["kind"] for d in docs if d not in core}
    if kinds != {"ServiceMonitor", "PrometheusRule"}:
        sys.exit(f"{overlay}: expected a ServiceMonitor and a PrometheusRule, found {sorted(kinds)}")
    rules = [d["spec"] for d in docs if d["kind"] == "PrometheusRule"]
    with open(core_out, "w", encoding="utf-8") as f:
        yaml.safe_dump_all(core, f, allow_unicode=True)
    with open(rules_out, "w", encoding="utf-8") as f:
        yaml.safe_dump(rules[0], f, allow_unicode=True)


def panels(items):
    for p in items:
        yield p
        yield from panels(p.get("panels", []))


def dashboards(folder, rules_out):
    """Grafana's variables replaced by values Prometheus accepts, so that the PromQL parses."""
    rules = []
    for path in sorted(pathlib.Path(folder).glob("*.json")):
        dash = json.load(open(path, encoding="utf-8"))
        for p in panels(dash["panels"]):
            for t in p.get("targets", []):
                expr = t["expr"].replace("$__rate_interval", "5m")
                expr = re.sub(r"\$\{?\w+\}?", ".*", expr)
                rules.append({"record": f"dashboard:{path.stem}:{p['id']}:{t['refId']}", "expr": expr})
        if not rules:
            sys.exit(f"{path}: no panel expression")
    with open(rules_out, "w", encoding="utf-8") as f:
        yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, f, allow_unicode=True)
    print(f"{len(rules)} dashboard expressions")


def prometheusrule(rules_yml):
    text = open(rules_yml, encoding="utf-8").read()
    body = text[text.index("\ngroups:") + 1:]
    sys.stdout.write(
        "# Generated from deploy/prometheus/rules.yml by `scripts/check-deploy.sh --fix`, which also\n"
        "# checks that the two agree: edit rules.yml, not this file.\n"
        "apiVersion: monitoring.coreos.com/v1\n"
        "kind: PrometheusRule\n"
        "metadata:\n"
        "  name: rosterhub\n"
        "spec:\n"
        + "".join(f"  {line}" if line.strip() else line for line in body.splitlines(keepends=True))
    )


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"split": split, "dashboards": dashboards, "prometheusrule": prometheusrule}[command](*args)
