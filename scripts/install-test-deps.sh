#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain, only where it is missing.
set -euo pipefail
# Nothing yet beyond cargo's own dependencies; browser tests add Chromium here.
