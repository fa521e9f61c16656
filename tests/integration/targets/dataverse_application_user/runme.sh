#!/usr/bin/env bash
# ansible-test entry point (make ansible-test-integration); the tests are in tasks/main.yml.
exec ../setup_runner/run.sh "$@"
