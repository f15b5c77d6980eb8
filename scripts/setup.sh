#!/usr/bin/env bash
# Idempotent set-up of what a fresh Debian 12 machine lacks to build and test tradechain.
# - libclang-dev: bindgen for RocksDB's C++ (librocksdb-sys builds RocksDB from source).
# - protobuf: none needed, protos compile with protox (pure Rust).
# - grpcurl is not packaged for Debian 12; the CLI and tests use tonic clients (and reflection).
# - chromium: the headless browser test of the consumer page (cli/tests/browser.rs); and a Python
#   virtual environment (.venv, packages pinned in scripts/python-requirements.txt) for the tests
#   that check our output with tools written elsewhere (GS1's EPCIS JSON Schema with Python
#   `jsonschema`) and drive the node with clients written elsewhere (Python grpcio +
#   grpcio-reflection, requests, websocket-client; scripts/pyclient/). Both skipped with
#   --no-browser (testnet/up passes it: a testnet needs neither).
set -euo pipefail
browser=1
[ "${1:-}" = "--no-browser" ] && browser=0
need=()
dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
# Without recommends (no sandbox helper, extensions…); a font so screenshots show text.
lean=()
if [ "$browser" = 1 ]; then
  command -v chromium >/dev/null 2>&1 || lean+=(chromium fonts-dejavu-core)
  command -v python3 >/dev/null 2>&1 || need+=(python3)
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
fi
if [ "${#need[@]}" -gt 0 ] || [ "${#lean[@]}" -gt 0 ]; then
  echo "setup: installing ${need[*]} ${lean[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  if [ "${#need[@]}" -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if [ "${#lean[@]}" -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${lean[@]}" >/dev/null
  fi
fi
command -v cargo >/dev/null 2>&1 || { echo "setup: cargo is missing (install Rust with rustup)" >&2; exit 1; }
if [ "$browser" = 1 ]; then
  root="$(cd "$(dirname "$0")/.." && pwd)"
  req="$root/scripts/python-requirements.txt"
  stamp="$root/.venv/.installed"
  if [ ! -x "$root/.venv/bin/python" ]; then
    echo "setup: creating the Python test environment (.venv)" >&2
    # System packages stay visible: the fallback below installs Debian's build of a package.
    python3 -m venv --system-site-packages "$root/.venv"
  fi
  if [ ! -f "$stamp" ] || ! cmp -s "$req" "$stamp"; then
    if "$root/.venv/bin/pip" install -q --disable-pip-version-check -r "$req"; then
      cp "$req" "$stamp"
    else
      # No package index reachable: Debian's packages of the same tools (older, same API).
      # Debian has no grpcio-reflection: the gRPC client then speaks the reflection protocol
      # with message classes it builds itself (scripts/pyclient/reflection_fallback.py).
      debs="python3-jsonschema python3-grpcio python3-protobuf python3-requests python3-websocket python3-cryptography"
      echo "setup: pip could not install $req; trying Debian's $debs" >&2
      SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
      # shellcheck disable=SC2086
      $SUDO apt-get install -y -qq $debs >/dev/null
    fi
  fi
  # Every module the tests import, with the package that provides it (pip name / Debian name).
  for m in "jsonschema jsonschema/python3-jsonschema" "grpc grpcio/python3-grpcio" \
           "google.protobuf protobuf/python3-protobuf" "requests requests/python3-requests" \
           "websocket websocket-client/python3-websocket" "cryptography cryptography/python3-cryptography"; do
    set -- $m
    "$root/.venv/bin/python" -c "import $1" 2>/dev/null \
      || { echo "setup: the Python test environment lacks $1 (package $2)" >&2; exit 1; }
  done
  "$root/.venv/bin/python" -c 'import grpc_reflection' 2>/dev/null \
    || echo "setup: note: no grpcio-reflection; the gRPC client uses its own reflection messages" >&2
fi
echo "setup: ok" >&2
