#!/bin/sh
# How job `api-tests` starts the service under test on the CI runner; mirrord runs it
# (`mirrord ci start -f .mirrord/gitlab-api-tests.json`) with the target's network, env and files.
# Replace the two lines below with the command, e.g. `exec go run ./cmd/server`.
echo ".mirrord/gitlab-api-tests.sh: write how the service starts" >&2
exit 1
