#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain, only where it is missing, from
# Debian's packages: Chromium and ChromeDriver for the browser tests (tests/http/browser.rs),
# and redis-server for the Redis transport's tests (tests/http/redis.rs, tests/http/hub), which
# start their own servers on free loopback ports.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)

if ((${#missing[@]})); then
    echo "installing test dependencies: ${missing[*]}" >&2
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's package starts a system redis-server on port 6379; the tests never use it.
chromium --version >&2
chromedriver --version >&2
redis-server --version >&2
