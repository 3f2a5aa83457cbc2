#!/usr/bin/env bash
# Debian packages neutex uses when present: libllvm19 makes Mitsuba's fast llvm_ad_rgb
# variant work (the LLVM 15 here crashes it); Mesa's EGL gives headless OpenGL for G-buffers;
# chromium is the browser the report/viewer tests drive through Playwright (executable_path
# /usr/bin/chromium; a browser is never downloaded at test time).
# Needs root and apt; otherwise it says what it skipped and neutex falls back (scalar_rgb), and
# the browser tests skip.
set -u
pkgs=(libllvm19 libegl1 libegl-mesa0 libgl1-mesa-dri chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "neutex setup: not root or no apt-get; skipping Debian packages: ${missing[*]}" >&2
  echo "neutex setup: Mitsuba will use scalar_rgb (slower); G-buffers need EGL (Mesa); browser tests skip without chromium." >&2
  exit 0
fi
echo "neutex setup: installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || echo "neutex setup: apt-get update failed; trying install anyway" >&2
apt-get install -y -qq "${missing[@]}" >/dev/null || echo "neutex setup: apt-get install failed for ${missing[*]}; continuing" >&2
exit 0
