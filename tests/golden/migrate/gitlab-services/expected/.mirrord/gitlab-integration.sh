#!/bin/sh
# How job `integration` starts the service under test on the CI runner; mirrord runs it
# (`mirrord ci start -f .mirrord/gitlab-integration.json`) with the target's network, env and files.
# Replace the two lines below with the command, e.g. `exec go run ./cmd/server`.
echo ".mirrord/gitlab-integration.sh: write how the service starts" >&2
exit 1
