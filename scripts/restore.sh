#!/usr/bin/env bash
# Restores a backup made by scripts/backup.sh into Hearth's database. Stop Hearth first.
#   PostgreSQL (DATABASE_URL set): pg_restore of a .pgdump file, in one transaction (a failure
#     leaves the database as it was). Refuses while other sessions (a running Hearth) are connected.
#   Embedded database (DATA_DIR): unpacks a .tar.gz into the folder. Refuses while Hearth runs on it.
# Refuses to replace a database that already holds data unless --force is given.
# Usage: scripts/restore.sh [--env-file FILE] [--force] BACKUP_FILE
#   The database is found as the server finds it: DATABASE_URL / DATA_DIR from the environment,
#   else from FILE (default ./.env).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/database-target.sh"

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }

env_file=.env
force=0
backup=
while [ $# -gt 0 ]; do
	case $1 in
		--env-file) env_file=${2:?--env-file needs a file}; shift 2 ;;
		--force) force=1; shift ;;
		-h | --help) usage; exit 0 ;;
		-*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
		*) [ -z "$backup" ] || { echo "one backup file at a time" >&2; exit 2; }; backup=$1; shift ;;
	esac
done
[ -n "$backup" ] || { usage >&2; exit 2; }
[ -f "$backup" ] || { echo "$backup does not exist" >&2; exit 2; }

resolve_database_target "$env_file"
magic=$(head -c 5 "$backup" | od -An -tx1 | tr -d ' \n')

if [ "$HEARTH_ENGINE" = postgres ]; then
	# A custom-format dump starts with the bytes "PGDMP".
	[ "$magic" = 5047444d50 ] || { echo "$backup is not a PostgreSQL backup (pg_dump custom format); the configured database is PostgreSQL." >&2; exit 2; }
	psql_value() { psql --no-psqlrc --quiet --tuples-only --no-align --dbname="$HEARTH_DATABASE_URL" --command="$1"; }
	other_sessions() { psql_value "select count(*) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"; }
	# A Hearth stopped a moment ago may still have sessions closing: give them a few seconds.
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		others=$(other_sessions)
		[ "$others" = 0 ] && break
		sleep 0.5
	done
	if [ "$others" != 0 ]; then
		echo "$others other session(s) are connected to the database: stop Hearth before restoring." >&2
		exit 2
	fi
	tables=$(psql_value "select count(*) from information_schema.tables where table_schema not in ('pg_catalog', 'information_schema')")
	clean=()
	if [ "$tables" != 0 ]; then
		if [ $force = 0 ]; then
			echo "The database is not empty ($tables tables): restoring would replace its data. Re-run with --force to replace it." >&2
			exit 2
		fi
		# The backup's objects replace the existing ones (dropped first, in the same transaction).
		clean=(--clean --if-exists)
	fi
	pg_restore --no-owner --no-privileges --single-transaction --exit-on-error "${clean[@]}" --dbname="$HEARTH_DATABASE_URL" "$backup"
else
	[ "${magic:0:4}" = 1f8b ] || { echo "$backup is not a backup of the embedded database (.tar.gz); the configured database is the embedded one (DATA_DIR)." >&2; exit 2; }
	force_flag=()
	[ $force = 1 ] && force_flag=(--force)
	node "$here/pglite-archive.ts" restore "$backup" "$HEARTH_DATA_DIR" "${force_flag[@]}"
fi
echo "Restored $backup into the $HEARTH_ENGINE database."
