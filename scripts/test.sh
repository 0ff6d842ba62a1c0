#!/usr/bin/env bash
# Set up for testing, then run every check: ruff lint, ruff format, mypy, pytest.
# Extra arguments go to pytest: scripts/test.sh -k audio
# Exits non-zero if any check fails; all four run regardless.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --test || exit 1

# --- a private PulseAudio server with a null sink, for the record/playback tests ---------------
# Always our own (never the desktop's), on its own socket: tests then never play through real
# speakers and never depend on a user's sound settings. PULSE_SERVER points libpulse, pactl and
# the ALSA pulse plugin (PortAudio's "default" device) at it.
pulse_dir=""
pulse_pid=""
stop_pulse() {
  if [[ -n $pulse_pid ]]; then
    kill "$pulse_pid" 2>/dev/null
    wait "$pulse_pid" 2>/dev/null
  fi
  [[ -n $pulse_dir ]] && rm -rf "$pulse_dir"
}
trap stop_pulse EXIT
trap 'exit 130' INT
trap 'exit 143' TERM  # so that the EXIT trap runs on a signal too

start_pulse() {
  pulse_dir=$(mktemp -d /tmp/sottovoce-pulse.XXXXXX)
  # -n: no default.pa (no hardware probing); root needs no --system as long as it has its own
  # runtime dir; --exit-idle-time=-1 keeps it up between tests.
  XDG_RUNTIME_DIR="$pulse_dir" pulseaudio -n --daemonize=no --exit-idle-time=-1 \
    --disallow-exit --use-pid-file=no --log-target=file:"$pulse_dir/log" \
    -L "module-native-protocol-unix socket=$pulse_dir/native" \
    -L "module-null-sink sink_name=sottovoce_null rate=48000" \
    </dev/null >/dev/null 2>&1 &
  pulse_pid=$!
  export PULSE_SERVER="unix:$pulse_dir/native"
  for _ in $(seq 50); do
    if pactl info >/dev/null 2>&1; then
      pactl set-default-sink sottovoce_null && pactl set-default-source sottovoce_null.monitor
      echo "test: PulseAudio (pid $pulse_pid) with null sink sottovoce_null at $PULSE_SERVER"
      return 0
    fi
    kill -0 "$pulse_pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "test: PulseAudio did not start; the audio device tests will skip. Its log:"
  tail -n 5 "$pulse_dir/log" 2>/dev/null
  unset PULSE_SERVER
  return 1
}
if command -v pulseaudio >/dev/null && command -v pactl >/dev/null; then
  start_pulse || true
else
  echo "test: pulseaudio not installed; the audio device tests will skip"
fi

# --- the checks -------------------------------------------------------------------------------
failed=()
results=()
check() {  # check NAME COMMAND...
  local name=$1
  shift
  echo "== $name: $*"
  if "$@"; then
    results+=("ok      $name")
  else
    results+=("FAILED  $name (exit $?)")
    failed+=("$name")
  fi
}
check "ruff check" .venv/bin/ruff check .
check "ruff format" .venv/bin/ruff format --check .
check "mypy" .venv/bin/mypy
check "pytest" .venv/bin/pytest -q "$@"

echo "== summary"
printf '%s\n' "${results[@]}"
((${#failed[@]} == 0))
