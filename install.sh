#!/usr/bin/env bash
# Builds swe-sleep and installs the binary into ~/.cargo/bin (idempotent).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v cargo >/dev/null 2>&1; then
  echo "install.sh: cargo not found; install Rust from https://rustup.rs first" >&2
  exit 1
fi
cargo install --locked --path . --root "${SWE_SLEEP_INSTALL_ROOT:-$HOME/.cargo}" --force --quiet
bin="${SWE_SLEEP_INSTALL_ROOT:-$HOME/.cargo}/bin/swe-sleep"
echo "installed $bin"
case ":$PATH:" in
  *":$(dirname "$bin"):"*) ;;
  *) echo "note: add $(dirname "$bin") to PATH to run swe-sleep by name" >&2 ;;
esac
