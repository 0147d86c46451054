#!/usr/bin/env bash
# The two commands a newcomer needs (README):
#   ./dev.sh serve [flags]   install what is missing, then run pagepilot with its embedded defaults
#   ./dev.sh test            install what is missing, then run the whole test suite
# Installs come only from Debian's packages (chromium, redis-server) and PyPI (capture-sdk, notte-sdk and
# mcp, the real clients the tests drive; schemathesis and openapi-spec-validator, which check the
# OpenAPI document against the running server).
set -euo pipefail
cd "$(dirname "$0")"

CACHE="${PAGEPILOT_CACHE:-$HOME/.cache/pagepilot}"
# Builds live outside the checkout so repeat runs (and CI's fresh clones) stay incremental.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "dev.sh: installing ${missing[*]} from Debian's packages" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

need_cargo() {
  command -v cargo >/dev/null || { echo "dev.sh: Rust's cargo is required (rustup.rs)" >&2; exit 1; }
}

python_venv() {
  export PAGEPILOT_TEST_VENV="${PAGEPILOT_TEST_VENV:-$CACHE/venv}"
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then apt_install python3-venv; fi
  if [ ! -x "$PAGEPILOT_TEST_VENV/bin/python" ]; then python3 -m venv "$PAGEPILOT_TEST_VENV"; fi
  if ! "$PAGEPILOT_TEST_VENV/bin/python" -c 'import capture, notte_sdk, schemathesis, openapi_spec_validator, mcp' 2>/dev/null; then
    "$PAGEPILOT_TEST_VENV/bin/pip" install -q 'capture-sdk==1.2.0' 'notte-sdk==1.10.0' \
      'schemathesis==4.32.5' 'openapi-spec-validator==0.9.0' 'mcp==2.3.0'
  fi
}

case "${1:-}" in
  serve)
    shift
    need_cargo
    apt_install chromium
    exec cargo run --release --bin pagepilot -- serve "$@"
    ;;
  test)
    need_cargo
    # redis-server: the multi-instance tests start their own on a free loopback port.
    apt_install chromium redis-server
    python_venv
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo test --workspace
    ;;
  *)
    echo "usage: ./dev.sh serve [pagepilot serve flags] | ./dev.sh test" >&2
    exit 2
    ;;
esac
