#!/bin/sh
# How job `e2e` starts the service under test on the CI runner; mirrord runs it
# (`mirrord ci start -f .mirrord/e2e-e2e.json`) with the target's network, env and files.
# Replace the two lines below with the command, e.g. `exec go run ./cmd/server`.
echo ".mirrord/e2e-e2e.sh: write how the service starts" >&2
exit 1
