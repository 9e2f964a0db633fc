#!/usr/bin/env bash
# Backs up Hearth's database into one file.
#   PostgreSQL (DATABASE_URL set): pg_dump in its custom format (compressed; restored with
#     pg_restore). It runs while Hearth runs: pg_dump reads one consistent snapshot.
#   Embedded database (DATA_DIR): a .tar.gz of the folder, taken while no server has it open — the
#     script refuses while Hearth runs on it (stop Hearth, back up, start it again).
# Usage: scripts/backup.sh [--env-file FILE] [--output FILE]
#   The database is found as the server finds it: DATABASE_URL / DATA_DIR from the environment,
#   else from FILE (default ./.env). Default output: backups/hearth-<engine>-<UTC time>.<ext>.
# The file is created readable by its owner only: it holds every account and message.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/database-target.sh"

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }

env_file=.env
output=
while [ $# -gt 0 ]; do
	case $1 in
		--env-file) env_file=${2:?--env-file needs a file}; shift 2 ;;
		--output | -o) output=${2:?--output needs a file}; shift 2 ;;
		-h | --help) usage; exit 0 ;;
		*) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
done

resolve_database_target "$env_file"
umask 077
stamp=$(date -u +%Y%m%dT%H%M%SZ)

if [ "$HEARTH_ENGINE" = postgres ]; then
	output=${output:-backups/hearth-postgres-$stamp.pgdump}
	mkdir -p "$(dirname "$output")"
	partial="$(dirname "$output")/.$(basename "$output").partial"
	trap 'rm -f "$partial"' EXIT
	# --no-owner/--no-privileges: the dump restores into a database owned by any role.
	pg_dump --format=custom --no-owner --no-privileges --dbname="$HEARTH_DATABASE_URL" --file="$partial"
	mv "$partial" "$output"
else
	output=${output:-backups/hearth-pglite-$stamp.tar.gz}
	node "$here/pglite-archive.ts" backup "$HEARTH_DATA_DIR" "$output"
fi
echo "Backup written: $output ($(wc -c <"$output") bytes, $HEARTH_ENGINE)"
