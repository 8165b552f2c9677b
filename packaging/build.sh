#!/usr/bin/env bash
# Build the one-folder hybridsearch application for this platform (Linux x86-64 here).
#
#   packaging/build.sh [--check]
#
# Steps: (1) write the models the package ships (float16 base model, fine-tuned overlay if the
# source tree has one) into build/resources/models; (2) PyInstaller with packaging/hybridsearch.spec
# into dist/hybridsearch/; (3) add the Linux desktop entry, icon and installer; (4) with --check,
# run the built executable's self-test in a clean environment (no venv, no source tree).
# Environment: PYTHON (default: /work/venv/bin/python if present, else python3).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x "$REPO/../venv/bin/python" ]; then PY="$REPO/../venv/bin/python"; else PY="$(command -v python3)"; fi
fi
DIST="$REPO/dist"
WORK="$REPO/build"
APP="$DIST/hybridsearch"
start=$(date +%s)

echo "== 1/3 models (float16 base model, fine-tuned overlay if present)"
"$PY" "$REPO/packaging/make_models.py" "$WORK/resources"

echo "== 2/3 PyInstaller (this takes several minutes)"
"$PY" -m PyInstaller --noconfirm --log-level WARN \
  --distpath "$DIST" --workpath "$WORK/pyinstaller" "$REPO/packaging/hybridsearch.spec"

echo "== 3/3 desktop integration"
cp "$REPO/resources/icons/hybridsearch.svg" "$APP/hybridsearch.svg"
cp "$REPO/packaging/hybridsearch.desktop" "$APP/hybridsearch.desktop"
cp "$REPO/packaging/install-linux.sh" "$APP/install.sh"
chmod +x "$APP/install.sh"
rm -f "$APP/_internal/hybridsearch.desktop"
# torch's libraries ship with their symbol tables (about 80 MB); the dynamic symbols stay.
# (Only torch's own libraries: stripping patchelf-repaired wheel libraries can corrupt them.)
if command -v strip >/dev/null; then
  for lib in "$APP"/_internal/torch/lib/lib{torch_cpu,torch_python,c10}.so; do
    [ -f "$lib" ] && strip --strip-unneeded "$lib"
  done
fi
find "$APP" -name "__pycache__" -type d -prune -exec rm -rf {} +

end=$(date +%s)
echo "built $APP in $((end - start)) s; size $(du -sh "$APP" | cut -f1)"
echo "largest parts:"
du -a "$APP/_internal" | sort -rn | awk 'NR>1 && NR<=13' | while read -r kb path; do
  printf "  %6.1f MB  %s\n" "$(echo "$kb/1024" | bc -l)" "${path#$APP/}"; done

if [ "${1:-}" = "--check" ]; then
  echo "== self-test of the built app in a clean environment"
  "$REPO/packaging/check_dist.sh" "$APP"
fi
