#!/usr/bin/env bash
# schemathesis (from PyPI) against a live `huddle serve`, on SQLite and on PostgreSQL: every
# operation of the OpenAPI document with an administrator's, a teacher's and a tool's token,
# each for a fixed time. Fails on any 5xx and on any answer the document does not describe
# (status code, content type, body schema, headers).
#
# Usage: scripts/schemathesis/run.sh            (after `cargo build`)
#   HUDDLE_BIN=…       the binary (default target/debug/huddle)
#   SECONDS_PER_TOKEN  the time budget of each token on each backend (default 30)
#   BACKENDS           "sqlite postgres" (default), or one of them
#   HUDDLE_TEST_POSTGRES_URL  the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres)
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN=${HUDDLE_BIN:-target/debug/huddle}
SECONDS_PER_TOKEN=${SECONDS_PER_TOKEN:-30}
BACKENDS=${BACKENDS:-sqlite postgres}
PG_ADMIN=${HUDDLE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
VENV=${SCHEMATHESIS_VENV:-target/schemathesis-venv}
VERSION=4.32.5
ORG=district-st

if ! "$VENV/bin/st" --version 2>/dev/null | grep -qF "$VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "schemathesis==$VERSION"
fi

WORK=$(mktemp -d)
PID=
PG_DB=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  if [ -n "$PG_DB" ]; then psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

run_backend() { # sqlite|postgres
  local backend=$1 url
  if [ "$backend" = sqlite ]; then
    url="sqlite://$WORK/st.db"
  else
    PG_DB="huddle_st_$$"
    psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB"
    url="${PG_ADMIN%/*}/$PG_DB"
  fi
  local secret="$WORK/jwt-$backend.secret"
  head -c 48 /dev/urandom | base64 | tr -d '\n' >"$secret"
  chmod 600 "$secret"
  local store=(--database-url "$url" --jwt-secret-file "$secret")
  # An admin, a teacher of class-5b, and a tool; events for a few students of that class.
  local admin_id teacher_id admin teacher tool
  admin_id=$("$BIN" user add --email it@st.example --role admin --org "$ORG" --database-url "$url")
  teacher_id=$("$BIN" user add --email ana@st.example --role teacher --org "$ORG" \
    --classes class-5b --database-url "$url")
  admin=$("$BIN" token --role admin --org "$ORG" --sub "$admin_id" --ttl 2h "${store[@]}")
  teacher=$("$BIN" token --role teacher --org "$ORG" --sub "$teacher_id" --ttl 2h "${store[@]}")
  tool=$("$BIN" token --role tool --org "$ORG" --sub st-tool --ttl 2h "${store[@]}")
  # (`set -e` does not hold inside a function called with `||`: a missing token would leave
  # schemathesis testing 401s only.)
  if [ -z "$admin" ] || [ -z "$teacher" ] || [ -z "$tool" ]; then
    echo "the users or tokens could not be made"; return 1
  fi

  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # No rate limit: the fuzzer's requests would be answered 429 instead of being tested.
  "$BIN" serve "${store[@]}" --bind "127.0.0.1:$port" --rate-limit-per-minute 0 \
    --refit-interval 0 >"$WORK/serve-$backend.log" 2>&1 &
  PID=$!
  local failed=0 healthy=0
  for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && { healthy=1; break; }
    sleep 0.1
  done
  if [ "$healthy" = 0 ]; then
    echo "huddle serve did not answer /healthz:"; cat "$WORK/serve-$backend.log"; return 1
  fi
  python3 - "$port" "$tool" <<'EOF' || failed=1
import json, sys, uuid, urllib.request
from datetime import datetime, timedelta, timezone
port, tool = sys.argv[1], sys.argv[2]
now = datetime.now(timezone.utc)
events = [{
    "event_id": str(uuid.uuid4()),
    "occurred_at": (now - timedelta(minutes=200 - i)).isoformat(timespec="seconds").replace("+00:00", "Z"),
    "student_id": f"stu-{i % 6}", "class_id": "class-5b",
    "skill_id": f"fractions.skill-{i % 3}", "item_id": f"item-{i % 9}",
    "outcome": ["correct", "incorrect", "skipped"][i % 3], "response_ms": 4000 + i,
    "tool": "st-tool", "skill_name": f"Skill {i % 3}",
} for i in range(200)]
request = urllib.request.Request(
    f"http://127.0.0.1:{port}/api/v1/events", data=json.dumps({"events": events}).encode(),
    headers={"Authorization": f"Bearer {tool}", "Content-Type": "application/json"})
answer = json.load(urllib.request.urlopen(request))
assert answer["accepted"] == 200, answer
EOF

  local role token
  for role in admin teacher tool; do
    token=${!role}
    echo "==> schemathesis on $backend as $role (${SECONDS_PER_TOKEN} s)"
    # The live stream never ends by design: its schema is checked by the API tests. One worker:
    # with several, hypothesis parses sources with `ast` from several threads at once, which
    # CPython 3.11 does not survive ("AST constructor recursion depth mismatch").
    "$VENV/bin/st" run "http://127.0.0.1:$port/openapi.json" \
      --header "Authorization: Bearer $token" \
      --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
      --exclude-path-regex '/now/stream$' \
      --max-time "$SECONDS_PER_TOKEN" --request-timeout 20 --workers 1 \
      --generation-database none --seed 21 --no-color \
      --report junit --report-junit-path "$WORK/junit-$backend-$role.xml" \
      || failed=1
  done
  if grep -q "panicked" "$WORK/serve-$backend.log"; then
    echo "the server panicked:"; grep -A3 panicked "$WORK/serve-$backend.log"; failed=1
  fi
  if [ "$failed" = 1 ]; then
    echo "the server's errors:"; grep -E "ERROR|panicked" "$WORK/serve-$backend.log" | tail -n 20 || true
  fi
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  if [ "$backend" = postgres ]; then
    psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)"; PG_DB=
  fi
  return "$failed"
}

status=0
for backend in $BACKENDS; do
  run_backend "$backend" || status=1
done
exit "$status"
