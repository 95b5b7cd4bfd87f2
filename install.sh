#!/usr/bin/env bash
# Builds swe-sleep and installs the binary into ~/.cargo/bin (idempotent).
#
#   ./install.sh                          install the binary
#   ./install.sh --systemd-unit REPO      also write a systemd user unit that
#                                         runs `swe-sleep daemon` beside REPO
#   ./install.sh --systemd-unit REPO --unit-only
#                                         write the unit, skip the build
#
# The unit is written to ~/.config/systemd/user/swe-sleep-<name>.service and
# is not started; the script prints the commands that enable it. Secrets
# (GitHub token, webhook secret) go in an environment file the unit reads,
# ~/.config/swe-sleep/<name>.env (created empty, mode 600), and are named
# from swe-sleep.toml, e.g. token = { env = "GITHUB_TOKEN" }.
set -euo pipefail
cd "$(dirname "$0")"

unit_repo=""
unit_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --systemd-unit) unit_repo="${2:?--systemd-unit needs the repository path}"; shift 2 ;;
    --unit-only) unit_only=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

root="${SWE_SLEEP_INSTALL_ROOT:-$HOME/.cargo}"
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
fi

if [ -n "$unit_repo" ]; then
  repo="$(cd "$unit_repo" && pwd)"
  name="$(basename "$repo" | tr -c 'A-Za-z0-9_.\n-' '_')"
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
ExecStart="$bin" daemon --repo "$repo" --log-file "$state_home/$name.log"
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
  echo "secrets go in $env_file (mode 600); logs in $state_home/$name.log"
fi
