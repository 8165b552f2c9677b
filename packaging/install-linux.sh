#!/usr/bin/env sh
# Install (or update) hybridsearch for the current user from this unpacked folder.
#
#   ./install.sh            copy to ~/.local/opt/hybridsearch, add the launcher and menu entry
#   ./install.sh --uninstall
#
# Nothing is written outside ~/.local; the user's libraries and settings are kept on uninstall.
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
PREFIX="${XDG_DATA_HOME:-$HOME/.local/share}"
OPT="$HOME/.local/opt/hybridsearch"
BIN="$HOME/.local/bin"
APPS="$PREFIX/applications"
ICONS="$PREFIX/icons/hicolor/scalable/apps"

if [ "${1:-}" = "--uninstall" ]; then
  rm -rf "$OPT" "$BIN/hybridsearch" "$APPS/hybridsearch.desktop" "$ICONS/hybridsearch.svg"
  echo "hybridsearch removed (your libraries in ~/.local/share/hybridsearch are kept)"
  exit 0
fi

mkdir -p "$OPT" "$BIN" "$APPS" "$ICONS"
if [ "$HERE" != "$OPT" ]; then
  rm -rf "$OPT.new"
  cp -a "$HERE" "$OPT.new"
  rm -rf "$OPT"
  mv "$OPT.new" "$OPT"
fi
ln -sf "$OPT/hybridsearch" "$BIN/hybridsearch"
cp "$OPT/hybridsearch.svg" "$ICONS/hybridsearch.svg"
sed "s|^Exec=.*|Exec=$OPT/hybridsearch|; s|^TryExec=.*|TryExec=$OPT/hybridsearch|" \
  "$OPT/hybridsearch.desktop" > "$APPS/hybridsearch.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$APPS" || true
echo "hybridsearch installed in $OPT"
echo "start it from your applications menu, or run: $BIN/hybridsearch   (check it: hybridsearch --self-test)"
