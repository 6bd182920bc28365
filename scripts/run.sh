#!/usr/bin/env bash
# The README's run command: prepares the machine (Debian packages, a local RabbitMQ), builds,
# declares the topology and runs the gateway in the foreground until Ctrl-C.
# Configuration: METRIKA_* environment variables (see README.md); defaults use ./data/metrika.sqlite
# and the local broker.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product metrika
.build/release/metrika topology
exec .build/release/metrika gateway "$@"
