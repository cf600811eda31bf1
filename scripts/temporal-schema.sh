#!/bin/sh
# Creates, or upgrades to the tool's version, the Temporal server's two PostgreSQL databases (history and
# visibility). Safe to run on every start: an up-to-date database is left as it is. The same script runs in
# docker-compose.yml (the temporal-schema job, in the temporalio/admin-tools image) and in the tests
# (scripts/temporalServer.ts, with the temporal-sql-tool that npm run setup builds).
#
# (No --quiet: with it the tool exits 0 on failure.)
# temporal-sql-tool reads the connection from SQL_HOST, SQL_PORT, SQL_USER and SQL_PASSWORD (never an
# argument: the password would show in ps). The schemas are embedded in the tool (--schema-name).
#   TEMPORAL_DB (default temporal), TEMPORAL_VISIBILITY_DB (default temporal_visibility),
#   TEMPORAL_SQL_TOOL (default temporal-sql-tool on PATH)
# POSIX sh: the admin-tools image is Alpine, without bash.
set -eu

: "${SQL_HOST:?set SQL_HOST, the PostgreSQL host}"
: "${SQL_USER:?set SQL_USER, a PostgreSQL role that may create databases}"
: "${SQL_PASSWORD:?set SQL_PASSWORD}"
export SQL_PORT="${SQL_PORT:-5432}"
export SQL_PLUGIN=postgres12
tool="${TEMPORAL_SQL_TOOL:-temporal-sql-tool}"

migrate() {
  database="$1"
  schema="$2"
  # setup-schema -v 0.0 only makes the version table and leaves a database that is past 0.0 alone. When it
  # fails the database is usually missing: create it and try once more, this time showing the tool's error.
  if ! "$tool" --db "$database" setup-schema -v 0.0 >/dev/null 2>&1; then
    echo "temporal-schema: creating database $database"
    "$tool" --db "$database" create-database
    "$tool" --db "$database" setup-schema -v 0.0
  fi
  "$tool" --db "$database" update-schema --schema-name "$schema"
  echo "temporal-schema: $database is at the schema of $("$tool" --version 2>/dev/null | head -n 1 || echo 'this tool')"
}

migrate "${TEMPORAL_DB:-temporal}" postgresql/v12/temporal
migrate "${TEMPORAL_VISIBILITY_DB:-temporal_visibility}" postgresql/v12/visibility
