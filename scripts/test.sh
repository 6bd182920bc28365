#!/usr/bin/env bash
# The README's test command: prepares the machine (Debian packages, a local RabbitMQ) and runs every
# test — domain unit tests, integration tests on the real broker and SQLite, contract validation,
# then the fault-injection suite (faults/run.py: a private RabbitMQ node on ports 5682/5685/25682,
# the release build of the gateway, every fault of RELIABILITY.md; ~15 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --for-tests
/usr/bin/python3 contracts/validate.py --all
swift build --build-tests
swift build -c release && .build/release/metrika-bench all --smoke
swift test "$@"
swift build -c release && /usr/bin/python3 faults/run.py
