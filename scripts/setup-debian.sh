#!/usr/bin/env bash
# Installs the Debian packages Assay needs beyond the Rust toolchain (rustc/cargo 1.95 with
# rustfmt and clippy). Build: a C compiler for the bundled SQLite. Run time: Vulkan (wgpu,
# lavapipe on machines without a GPU), X11 libraries for the GUI, Xvfb for headless GUI runs,
# python3 for the reference-vector and baseline scripts. Safe to run twice.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  ca-certificates gcc libc6-dev \
  libvulkan1 mesa-vulkan-drivers \
  xvfb libxcursor1 libxi6 libxkbcommon-x11-0 libx11-xcb1 libfontconfig1 \
  python3 python3-pip python3-venv >/dev/null
if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found: install the Rust toolchain 1.95 (rustup) first" >&2
  exit 1
fi
