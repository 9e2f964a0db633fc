# Sourced by scripts/backup.sh and scripts/restore.sh: works out which database Hearth uses, the way
# the server does (DATABASE_URL set: PostgreSQL; otherwise the embedded database in DATA_DIR,
# default ./data), from the environment or else from an env file (default ./.env, as `npm start`).
# Sets HEARTH_ENGINE (postgres|pglite) and HEARTH_DATABASE_URL or HEARTH_DATA_DIR. A password in the
# URL is moved to PGPASSWORD, so it never appears in a process list (pg_dump's arguments are public).
source "$(dirname "${BASH_SOURCE[0]}")/env-file.sh"

url_decode() {
	local encoded=${1//\\/\\\\}
	printf '%b' "${encoded//%/\\x}"
}

# resolve_database_target ENV_FILE
resolve_database_target() {
	local env_file=$1
	local url=${DATABASE_URL-$(env_file_value "$env_file" DATABASE_URL)}
	local data_dir=${DATA_DIR-$(env_file_value "$env_file" DATA_DIR)}
	if [ -n "$url" ]; then
		if [[ ! $url =~ ^postgres(ql)?:// ]]; then
			echo "DATABASE_URL must start with postgres:// or postgresql://" >&2
			return 2
		fi
		if [[ $url =~ ^(postgres(ql)?://)([^:@/]*):([^@/]*)@(.*)$ ]]; then
			PGPASSWORD=$(url_decode "${BASH_REMATCH[4]}")
			export PGPASSWORD
			url="${BASH_REMATCH[1]}${BASH_REMATCH[3]}@${BASH_REMATCH[5]}"
		fi
		HEARTH_ENGINE=postgres
		HEARTH_DATABASE_URL=$url
	else
		data_dir=${data_dir:-./data}
		if [[ $data_dir == memory://* ]]; then
			echo "DATA_DIR=$data_dir is in memory: there is nothing on disk to back up or restore." >&2
			return 2
		fi
		HEARTH_ENGINE=pglite
		HEARTH_DATA_DIR=$data_dir
	fi
}
