#!/usr/bin/env bash
# Idempotent set-up of what a fresh Debian 12 machine lacks to build and test tradechain.
# - libclang-dev: bindgen for RocksDB's C++ (librocksdb-sys builds RocksDB from source).
# - protobuf: none needed, protos compile with protox (pure Rust).
# - grpcurl is not packaged for Debian 12; the CLI and tests use tonic clients (and reflection).
set -euo pipefail
need=()
dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
if [ "${#need[@]}" -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v cargo >/dev/null 2>&1 || { echo "setup: cargo is missing (install Rust with rustup)" >&2; exit 1; }
echo "setup: ok" >&2
