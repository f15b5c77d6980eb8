# Shared helpers for the testnet scripts (sourced, not run).
set -euo pipefail
TESTNET_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$TESTNET_DIR/.." && pwd)"
DATA="${TESTNET_DATA:-$TESTNET_DIR/.data}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${TRADECHAIN_BIN:-$CARGO_TARGET_DIR/release/tradechain}"
BASE_GRPC="${TESTNET_BASE_GRPC:-9100}"
BASE_P2P="${TESTNET_BASE_P2P:-7100}"
BASE_HTTP="${TESTNET_BASE_HTTP:-8100}"

# The tradechain binary, or a clear error (scripts run with `set -e`: never fail silently).
need_bin() {
  [ -x "$BIN" ] && return 0
  echo "tradechain binary not found at $BIN: run testnet/up (it builds it), or set CARGO_TARGET_DIR or TRADECHAIN_BIN" >&2
  exit 1
}

# Node names in start order: validators first, then the observer.
node_names() {
  cat "$DATA/nodes" 2>/dev/null
}
node_index() { # name -> 1-based index
  local i=0 n
  while read -r n; do i=$((i + 1)); [ "$n" = "$1" ] && { echo "$i"; return 0; }; done < "$DATA/nodes"
  echo "unknown node: $1 (known: $(tr '\n' ' ' < "$DATA/nodes"))" >&2
  return 1
}
grpc_port() { echo $((BASE_GRPC + $(node_index "$1"))); }
http_port() { echo $((BASE_HTTP + $(node_index "$1"))); }
p2p_port() { echo $((BASE_P2P + $(node_index "$1"))); }

# Network namespaces (testnet/up --netns): each node in its own namespace "tcn-NODE" with a veth
# link to the bridge "tcbr0" (10.77.0.0/24) and tc netem delay/loss; otherwise all on 127.0.0.1.
NETNS_SUBNET=10.77.0
uses_netns() { [ -f "$DATA/netns" ]; }
node_host() { if uses_netns; then echo "$NETNS_SUBNET.$(node_index "$1")"; else echo 127.0.0.1; fi; }
# TLS (testnet/up --tls): the CA and every node's certificate under $DATA/tls; the API ports then
# speak only TLS, and the CLI run by these scripts trusts the CA (and, with --mtls, presents the
# member client certificate) through its TRADECHAIN_TLS_* variables.
uses_tls() { [ -f "$DATA/tls/ca.pem" ]; }
scheme() { if uses_tls; then echo https; else echo http; fi; }
tls_env() {
  if uses_tls; then
    export TRADECHAIN_TLS_CA="$DATA/tls/ca.pem"
    if [ -f "$DATA/tls/client.pem" ]; then
      export TRADECHAIN_TLS_CERT="$DATA/tls/client.pem" TRADECHAIN_TLS_KEY="$DATA/tls/client.key"
    fi
  fi
}
tls_env
grpc_endpoint() { echo "$(scheme)://$(node_host "$1"):$(grpc_port "$1")"; }
http_url() { echo "$(scheme)://$(node_host "$1"):$(http_port "$1")"; }
pid_of() { cat "$DATA/$1/pid" 2>/dev/null || true; }
is_running() { local p; p="$(pid_of "$1")"; [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

start_node() {
  local n="$1"
  if is_running "$n"; then return 0; fi
  # A simple command in the background (not an `a && b` list, which would leave a subshell
  # holding our stdout open), detached from our stdin and stdout.
  local wrap=()
  if uses_netns; then wrap=(ip netns exec "tcn-$n"); fi
  ( cd "$DATA/$n" || exit 1
    nohup "${wrap[@]}" "$BIN" node run --config node.toml >> node.log 2>&1 < /dev/null &
    echo $! > pid )
}

# Wait until every named node reports height >= $1 (timeout $2 seconds).
wait_height() {
  local want="$1" timeout="$2" start n h ok
  start=$(date +%s)
  while :; do
    ok=1
    for n in $(node_names); do
      is_running "$n" || continue
      h=$("$BIN" --endpoint "$(grpc_endpoint "$n")" query status --output json 2>/dev/null | sed -n 's/.*"height": *\([0-9]*\).*/\1/p' | head -1) || true
      [ -n "$h" ] && [ "$h" -ge "$want" ] || { ok=0; break; }
    done
    [ "$ok" = 1 ] && return 0
    [ $(( $(date +%s) - start )) -ge "$timeout" ] && { echo "timed out waiting for height $want" >&2; return 1; }
    sleep 0.5
  done
}
