#!/usr/bin/env bash
# Dependency audit: every Python package in uv.lock (all services, extras and dev tools) with
# pip-audit, and the web client's production npm packages (web/package-lock.json) with
# npm audit.
#
# Exit codes:
#   0  no known vulnerability that a newer version fixes (unfixed ones are listed, not fatal)
#   1  a known vulnerability with a fix available (npm: of high or critical severity, as
#      `npm audit --audit-level=high`): upgrade the package in the lock
#   2  the audit could not be done: the advisory service was unreachable or refused, a
#      package could not be checked, or web/ has no lockfile. Never taken for a pass, unless
#      AUDIT_ALLOW_UNREACHABLE=1 says so (a machine whose network reaches the package
#      registries but not their advisory APIs); then it is reported loudly and exits 0.
#
# pip-audit asks PyPI's JSON API by default (per release: /pypi/<name>/<version>/json), which
# reports advisories with the versions fixing them; AUDIT_SERVICE=osv uses osv.dev instead.
set -uo pipefail
cd "$(dirname "$0")/.."

SERVICE="${AUDIT_SERVICE:-pypi}"
ALLOW_UNREACHABLE="${AUDIT_ALLOW_UNREACHABLE:-0}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python_status=0
echo "[audit] python: uv.lock, all packages, extras and groups, via pip-audit ($SERVICE)"
if ! python3 -m uv export --frozen --all-packages --all-extras --all-groups --no-hashes \
    --no-emit-workspace --quiet >"$work/requirements.txt"; then
  echo "[audit] python: could not export uv.lock" >&2
  python_status=2
else
  # --no-deps --disable-pip: the lock already pins every package; nothing is installed.
  .venv/bin/pip-audit -r "$work/requirements.txt" --no-deps --disable-pip \
    --vulnerability-service "$SERVICE" --progress-spinner off --format json \
    --output "$work/pip-audit.json" 2>"$work/pip-audit.err"
  .venv/bin/python - "$work/pip-audit.json" <<'PY'
import json
import sys

report_path = sys.argv[1]
try:
    with open(report_path) as report_file:
        report = json.load(report_file)
except (OSError, ValueError):
    print("[audit] python: pip-audit produced no report", file=sys.stderr)
    sys.exit(2)
fixable, unfixed, skipped = [], [], []
dependencies = report.get("dependencies", [])  # those whose markers apply here
for dep in dependencies:
    if "skip_reason" in dep:
        skipped.append(f"{dep['name']}: {dep['skip_reason']}")
        continue
    for vuln in dep.get("vulns", []):
        line = f"{dep['name']} {dep['version']}: {vuln['id']}"
        if vuln.get("fix_versions"):
            fixable.append(f"{line} (fixed in {', '.join(vuln['fix_versions'])})")
        else:
            unfixed.append(f"{line} (no fixed version yet)")
audited = len(dependencies) - len(skipped)
print(f"[audit] python: {audited} of {len(dependencies)} locked packages checked")
for line in unfixed:
    print(f"[audit] python: known, unfixed: {line}")
for line in fixable:
    print(f"[audit] python: VULNERABLE, fix available: {line}")
if skipped:
    print(f"[audit] python: {len(skipped)} packages could not be checked, e.g.:", file=sys.stderr)
    for line in skipped[:5]:
        print(f"  {line}", file=sys.stderr)
sys.exit(1 if fixable else 2 if skipped else 0)
PY
  python_status=$?
fi

npm_status=0
if [ -d web ]; then
  echo "[audit] npm: web/, production dependencies, via npm audit (fatal from high)"
  if [ ! -f web/package-lock.json ]; then
    echo "[audit] npm: web/ has no package-lock.json: nothing pinned to audit" >&2
    npm_status=2
  else
    (cd web && npm audit --omit=dev --json >"$work/npm-audit.json" 2>"$work/npm-audit.err")
    .venv/bin/python - "$work/npm-audit.json" "$work/npm-audit.err" <<'PY'
import json
import sys

report_path, errors_path = sys.argv[1], sys.argv[2]
try:
    with open(report_path) as report_file:
        report = json.load(report_file)
except (OSError, ValueError):
    report = {}
if "vulnerabilities" not in report:  # npm writes {"error": ...} when the endpoint fails
    reason = report.get("error", {}).get("summary") or open(errors_path).read().strip()
    print(f"[audit] npm: the audit endpoint failed: {reason[:300]}", file=sys.stderr)
    sys.exit(2)
fixable = []
for name, vuln in sorted(report["vulnerabilities"].items()):
    line = f"{name} ({vuln['severity']}, {vuln.get('range', '?')})"
    if vuln.get("fixAvailable") and vuln["severity"] in ("high", "critical"):
        fixable.append(line)
    else:  # unfixed, or below the high level: listed, not fatal
        fixed = "fix available" if vuln.get("fixAvailable") else "no fix yet"
        print(f"[audit] npm: known, {fixed}: {line}")
total = report.get("metadata", {}).get("dependencies", {}).get("prod", "?")
print(f"[audit] npm: {total} production packages checked")
for line in fixable:
    print(f"[audit] npm: VULNERABLE, fix available: {line}")
sys.exit(1 if fixable else 0)
PY
    npm_status=$?
  fi
fi

status=0
for part in "$python_status" "$npm_status"; do
  if [ "$part" -eq 1 ]; then
    status=1
  elif [ "$part" -eq 2 ] && [ "$status" -eq 0 ]; then
    status=2
  fi
done
if [ "$status" -eq 1 ]; then
  echo "[audit] FAILED: known vulnerabilities with a fix available (above)" >&2
elif [ "$status" -eq 2 ]; then
  if [ "$ALLOW_UNREACHABLE" = "1" ]; then
    echo "[audit] WARNING: the audit could not be completed (above); AUDIT_ALLOW_UNREACHABLE=1" >&2
    status=0
  else
    echo "[audit] FAILED: the audit could not be completed (above)" >&2
  fi
else
  echo "[audit] ok: no known vulnerability with a fix available"
fi
exit "$status"
