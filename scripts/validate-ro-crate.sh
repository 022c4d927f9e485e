#!/usr/bin/env bash
# Issue 17, item 4: exports the RO-Crate of a tiny-profile run and validates it with roc-validator
# (PyPI `roc-validator`) against the Workflow Run RO-Crate provenance profile 0.5, which inherits
# process-run-crate 0.5, workflow-run-crate 0.5, workflow-ro-crate 1.0 and ro-crate 1.1.
# Offline: the validator fetches the two JSON-LD contexts the crate names; their texts are bundled
# in scripts/ro-crate-contexts/ (RO-Crate 1.1, from ResearchObject/ro-crate; workflow-run, from
# ResearchObject/ro-terms) and loaded into the validator's HTTP cache, and it runs with --offline.
# Usage: scripts/validate-ro-crate.sh [manifest [profile [severity]]]
#   default: experiments/vae_nd2fe14b.toml tiny REQUIRED; severity REQUIRED|RECOMMENDED|OPTIONAL.
# Env: MEXP (default target/release/mexp), ROCV_VENV (default .venv-rocv, created when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
manifest="${1:-experiments/vae_nd2fe14b.toml}"
profile="${2:-tiny}"
severity="${3:-REQUIRED}"
mexp="${MEXP:-target/release/mexp}"
venv="${ROCV_VENV:-.venv-rocv}"
if [ ! -x "$venv/bin/rocrate-validator" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet roc-validator
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$mexp" run "$manifest" --profile "$profile" --quiet --cache "$work/cache" --results "$work/results" >/dev/null
"$mexp" export "$manifest" --profile "$profile" --cache "$work/cache" --ro-crate "$work/crate"
# Load the bundled contexts into the validator's HTTP cache, as if fetched online.
"$venv/bin/python" - "$work/http_cache" <<'PY'
import io
import sys
import requests
import urllib3
from requests.adapters import BaseAdapter
from requests_cache import CachedSession

FILES = {
    "https://w3id.org/ro/crate/1.1/context": "scripts/ro-crate-contexts/ro-crate-1.1.jsonld",
    "https://w3id.org/ro/terms/workflow-run/context": "scripts/ro-crate-contexts/workflow-run.json",
}

class Local(BaseAdapter):
    def send(self, request, **kwargs):
        r = requests.Response()
        r.status_code, r.reason, r.url, r.request = 200, "OK", request.url, request
        r.headers["Content-Type"] = "application/ld+json"
        with open(FILES[request.url], "rb") as f:
            r._content = f.read()
        r.raw = urllib3.HTTPResponse(body=io.BytesIO(r._content), headers=dict(r.headers), status=200,
                                     preload_content=False, request_url=request.url)
        return r

    def close(self):
        pass

s = CachedSession(cache_name=sys.argv[1], backend="sqlite", expire_after=-1,
                  allowable_methods=("GET",), allowable_codes=(200, 302, 404))
s.mount("https://", Local())
for url in FILES:
    s.get(url, headers={"Accept": "application/ld+json, application/json, */*;q=0.1"},
          allow_redirects=True).raise_for_status()
PY
"$venv/bin/rocrate-validator" validate --offline --cache-path "$work/http_cache" \
  -p provenance-run-crate-0.5 -l "$severity" -f json -o "$work/report.json" "$work/crate" </dev/null || true
"$venv/bin/python" - "$work/report.json" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
report, _ = json.JSONDecoder().raw_decode(text)
for issue in report.get("issues", []):
    print(f"{issue.get('severity')}: {issue.get('message')} ({issue.get('check', {}).get('name', '')})")
for s in report.get("skipped_check_details", []):
    print(f"skipped: {s.get('name')}: {s.get('message')}")
skipped = len(report.get("skipped_check_details", []))
print(f"passed: {report.get('passed')}, skipped checks: {skipped}")
sys.exit(0 if report.get("passed") and skipped == 0 else 1)
PY
