#!/usr/bin/env bash
# Prove the built folder runs without the build environment.
#
#   packaging/check_dist.sh [dist/hybridsearch]
#
# The folder is copied to a temporary directory and run from there with a clean environment
# (env -i, PATH=/usr/bin:/bin, a fresh HOME), from another working directory: once headless with
# --self-test, once showing the main window offscreen (--smoke-window). Where possible (root and
# unshare(1) available) the runs also happen in a private mount namespace in which the source
# tree, the virtual environment and the user cache are hidden behind empty tmpfs mounts, so
# nothing of the build environment can be reached even by absolute path. Exits non-zero on the
# first failure. Afterwards it checks that no model was converted (the package ships it).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$(cd "${1:-$REPO/dist/hybridsearch}" && pwd)"
TMP="$(mktemp -d /tmp/hybridsearch-check.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
cp -a "$SRC" "$TMP/app"
mkdir -p "$TMP/home" "$TMP/cwd"
EXE="$TMP/app/hybridsearch"

# what to hide: the source tree, the venv (the python that built it) and the build user's cache
HIDE=("$REPO")
for d in "$REPO/../venv" "${VIRTUAL_ENV:-}" "$HOME/.cache"; do
  [ -n "$d" ] && [ -d "$d" ] || continue
  d="$(cd "$d" && pwd)"
  case "$d/" in "$REPO"/*) continue ;; esac  # inside the source tree: hidden with it
  HIDE+=("$d")
done

run_clean() {  # run_clean ENV... -- ARGS...
  local envs=() ; while [ "$1" != "--" ]; do envs+=("$1"); shift; done; shift
  local cmd=(env -i PATH=/usr/bin:/bin HOME="$TMP/home" "${envs[@]}" "$EXE" "$@")
  if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -m true 2>/dev/null; then
    local mounts=""
    for h in "${HIDE[@]}"; do mounts+="mount -t tmpfs none '$h' && "; done
    unshare -m sh -c "${mounts} cd '$TMP/cwd' && \"\$@\"" sh "${cmd[@]}"
  else
    (cd "$TMP/cwd" && "${cmd[@]}")
  fi
}

echo "checking $SRC (copied to $TMP/app); hidden: ${HIDE[*]}"
echo "--- headless: hybridsearch --self-test"
t0=$(date +%s.%N)
run_clean -- --self-test
t1=$(date +%s.%N)
echo "--- offscreen: main window (hybridsearch --smoke-window)"
run_clean QT_QPA_PLATFORM=offscreen -- --smoke-window
t2=$(date +%s.%N)
if find "$TMP/home" -name model.safetensors | grep -q .; then
  echo "FAIL: the packaged app converted or downloaded a model at first start:" >&2
  find "$TMP/home" -name model.safetensors >&2
  exit 1
fi
printf "clean-environment checks passed (self-test %.1f s, window %.1f s)\n" \
  "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)"
