# Steps shared by the benchmark scripts, sourced by them (`. scripts/lib.sh`); they run
# "$ROSTERHUB_BIN".

# A client named bench of the database $1 with the largest per-client rate limit, so that the
# guard runs on every request but never refuses: sets ID and SECRET.
bench_client() {
  local client
  client=$("$ROSTERHUB_BIN" client create --name bench --rate-limit-per-min 1000000 --database-url "$1")
  ID=$(printf '%s' "$client" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
  SECRET=$(printf '%s' "$client" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
}

# Waits for the server on 127.0.0.1:$1 to be ready, then takes a token of the client ID/SECRET:
# sets TOKEN, and BASE to the server's OneRoster rostering base URL.
bench_token() {
  bench_wait_ready "$1" || true
  TOKEN=$(curl -sf -u "$ID:$SECRET" -d grant_type=client_credentials "http://127.0.0.1:$1/oauth/token" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  BASE="http://127.0.0.1:$1/ims/oneroster/rostering/v1p2"
}

# Waits (up to 20 s) for the server on 127.0.0.1:$1 to answer /health/ready.
bench_wait_ready() {
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$1/health/ready" >/dev/null && return 0; sleep 0.2; done
  return 1
}

# A free TCP port on 127.0.0.1.
bench_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
