#!/usr/bin/env bash
# The README's test command: prepares the machine (Debian packages, a local RabbitMQ) and runs every
# test — domain unit tests, integration tests on the real broker and SQLite, contract validation.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
/usr/bin/python3 contracts/validate.py --all
swift build --build-tests
swift test "$@"
