#!/usr/bin/env bash
# Builds swe-sleep and installs the binary (idempotent).
#
#   ./install.sh [--prefix DIR]          install into DIR/bin (default:
#                                        $CARGO_HOME/bin, else ~/.cargo/bin)
#   ./install.sh --systemd-unit REPO     also write a systemd user unit that
#                                        runs `swe-sleep daemon` beside REPO
#   ./install.sh --systemd-unit REPO --unit-only
#                                        write the unit, skip the build (it
#                                        runs the binary of --prefix)
#
# The unit is written to ~/.config/systemd/user/swe-sleep-<dir>-<hash>.service
# (<hash>: of REPO's absolute path, so two checkouts named alike get two
# units) and is not started; the script prints the commands that enable it.
# The daemon listens on a free loopback port (`--listen 127.0.0.1:0`);
# `swe-sleep predict` and `status` find it through the lock in the state
# directory, and `status` prints its address. Secrets (GitHub token,
# webhook secret) go in an environment file the unit reads,
# ~/.config/swe-sleep/<dir>-<hash>.env (created empty, mode 600), and are
# named from swe-sleep.toml, e.g. token = { env = "GITHUB_TOKEN" }.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  echo "usage: ./install.sh [--prefix DIR] [--systemd-unit REPO [--unit-only]]" >&2
  exit 2
}

# The value of option $1, or a usage error naming what it needs.
value() {
  if [ $# -lt 2 ] || [ -z "$2" ] || [ "${2#--}" != "$2" ]; then
    echo "install.sh: $1 needs $3" >&2
    usage
  fi
}

prefix=""
unit_repo=""
unit_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) value "$1" "${2:-}" "a directory"; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --systemd-unit) value "$1" "${2:-}" "the repository path"; unit_repo="$2"; shift 2 ;;
    --systemd-unit=*) unit_repo="${1#--systemd-unit=}"; shift ;;
    --unit-only) unit_only=1; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage ;;
  esac
done
if [ "$unit_only" = 1 ] && [ -z "$unit_repo" ]; then
  echo "install.sh: --unit-only needs --systemd-unit REPO" >&2
  usage
fi

root="${prefix:-${SWE_SLEEP_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}}"
mkdir -p "$root"
root="$(cd "$root" && pwd)"
bin="$root/bin/swe-sleep"
if [ "$unit_only" = 0 ]; then
  if ! command -v cargo >/dev/null 2>&1; then
    echo "install.sh: cargo not found; install Rust from https://rustup.rs first" >&2
    exit 1
  fi
  cargo install --locked --path . --root "$root" --force --quiet
  echo "installed $bin"
  case ":$PATH:" in
    *":$(dirname "$bin"):"*) ;;
    *) echo "note: add $(dirname "$bin") to PATH to run swe-sleep by name" >&2 ;;
  esac
elif [ ! -x "$bin" ]; then
  echo "warning: the unit runs $bin, which does not exist yet: run ./install.sh without --unit-only (with the same --prefix) to install it" >&2
fi

if [ -n "$unit_repo" ]; then
  if [ ! -d "$unit_repo" ]; then
    echo "install.sh: --systemd-unit $unit_repo: no such directory" >&2
    exit 1
  fi
  repo="$(cd "$unit_repo" && pwd -P)"
  hash="$(printf '%s' "$repo" | sha256sum | cut -c1-8)"
  name="$(basename "$repo" | tr -c 'A-Za-z0-9_.\n-' '_')-$hash"
  config_home="${XDG_CONFIG_HOME:-$HOME/.config}"
  unit_dir="$config_home/systemd/user"
  env_file="$config_home/swe-sleep/$name.env"
  state_home="${XDG_STATE_HOME:-$HOME/.local/state}/swe-sleep"
  mkdir -p "$unit_dir" "$(dirname "$env_file")" "$state_home"
  if [ ! -e "$env_file" ]; then
    (umask 077 && : > "$env_file")
  fi
  unit="$unit_dir/swe-sleep-$name.service"
  cat > "$unit" <<UNIT
[Unit]
Description=swe-sleep daemon for $repo
Documentation=file://$PWD/README.md

[Service]
Type=simple
ExecStart="$bin" daemon --repo "$repo" --listen 127.0.0.1:0 --log-file "$state_home/$name.log"
EnvironmentFile=-$env_file
Restart=on-failure
RestartSec=5
# Sleeps yield to the user: the daemon nices its sleep threads itself; the
# whole service also runs at a lower weight and idle I/O class.
Nice=5
CPUWeight=20
IOSchedulingClass=idle
KillSignal=SIGTERM
TimeoutStopSec=15

[Install]
WantedBy=default.target
UNIT
  echo "wrote $unit"
  echo "enable it with: systemctl --user daemon-reload && systemctl --user enable --now swe-sleep-$name.service"
  echo "it listens on a free loopback port: \`swe-sleep status --repo $repo\` says which"
  echo "secrets go in $env_file (mode 600); logs in $state_home/$name.log"
fi
