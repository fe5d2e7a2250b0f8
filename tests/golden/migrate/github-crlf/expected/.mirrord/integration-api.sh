#!/bin/sh
# How job `api` starts the service under test on the CI runner; mirrord runs it
# (`mirrord ci start -f .mirrord/integration-api.json`) with the target's network, env and files.
# Replace the two lines below with the command, e.g. `exec go run ./cmd/server`.
echo ".mirrord/integration-api.sh: write how the service starts" >&2
exit 1
