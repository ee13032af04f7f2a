#!/bin/sh
# Creates Temporal's two databases on PostgreSQL and brings their schemas to the server's version, with
# temporal-sql-tool (the server's own; its schemas are built into it from the server module's schema/
# folder). Idempotent: run again after an upgrade of the server, it applies only the new versions.
# Reads the connection from the environment, as temporal-sql-tool does: SQL_PLUGIN (postgres12),
# SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD.
# Run by docker-compose.yml's temporal-schema job, and by test/postgresCluster.test.ts against a real
# Postgres and server.
set -eu
export SQL_PLUGIN="${SQL_PLUGIN:-postgres12}"
temporal-sql-tool --db temporal create
temporal-sql-tool --db temporal setup-schema -v 0.0
temporal-sql-tool --db temporal update-schema --schema-name postgresql/v12/temporal
temporal-sql-tool --db temporal_visibility create
temporal-sql-tool --db temporal_visibility setup-schema -v 0.0
temporal-sql-tool --db temporal_visibility update-schema --schema-name postgresql/v12/visibility
