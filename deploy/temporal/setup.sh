#!/bin/sh
# Registers, on a running Temporal server, the namespace (30 days' retention) and the project's search
# attributes (the Web UI's columns; common/searchAttributes.ts, which test/compose.test.ts compares with
# this list). Postgres visibility allows 10 Keyword and 3 each of Double, Int, Bool, Datetime and Text.
# Idempotent. Uses the stock `temporal` CLI, which reads TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE.
# Run by docker-compose.yml's temporal-setup job, and by test/postgresCluster.test.ts against a real server.
set -eu
retry() {
  for attempt in $(seq 30); do "$@" && return 0; echo "not yet ($attempt/30): $*"; sleep 2; done
  return 1
}
namespace() {
  temporal operator namespace describe >/dev/null 2>&1 ||
    temporal operator namespace create --retention 30d
}
retry temporal operator cluster health
retry namespace
retry temporal operator search-attribute create \
  --name AutoresearchTag --type Keyword \
  --name AutoresearchTarget --type Keyword \
  --name AutoresearchStatus --type Keyword \
  --name AutoresearchPhase --type Keyword \
  --name AutoresearchBestMetric --type Double \
  --name AutoresearchExperiments --type Int \
  --name AutoresearchKept --type Int
temporal operator search-attribute list
