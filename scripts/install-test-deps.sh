#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain, only where it is missing:
# Debian's Chromium and ChromeDriver for the browser tests (tests/http/browser.rs).
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)

if ((${#missing[@]})); then
    echo "installing test dependencies: ${missing[*]}" >&2
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi

chromium --version >&2
chromedriver --version >&2
