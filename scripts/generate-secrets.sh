#!/usr/bin/env bash
# Fills in the secrets Hearth's production stack needs, in an env file (default ./.env, the file
# docker-compose.yml reads):
#   APP_SECRET         signs the server's tokens (32 random bytes, hex)
#   POSTGRES_PASSWORD  the PostgreSQL password of docker-compose.yml (32 random bytes, hex: URL-safe)
#   METRICS_TOKEN      the bearer token /metrics asks for (32 random bytes, hex)
#   TURN_SECRET        shared with coturn (use-auth-secret) for short-lived TURN credentials
# A secret that already has a value is kept: running it again changes nothing, and a running
# database keeps the password it was created with. Values are never printed. The file is made
# readable by its owner only (mode 600).
# Usage: scripts/generate-secrets.sh [ENV_FILE]
set -euo pipefail

SECRETS=(APP_SECRET POSTGRES_PASSWORD METRICS_TOKEN TURN_SECRET)
# 32 bytes = 256 bits: what APP_SECRET and METRICS_TOKEN must have at least, and beyond guessing.
SECRET_BYTES=32

case ${1:-} in
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
file=${1:-.env}

random_hex() {
	# /dev/urandom is the kernel's CSPRNG; od is in every base system (openssl may not be).
	od -An -tx1 -N"$SECRET_BYTES" /dev/urandom | tr -d ' \n'
}

# The current value of NAME in the file (last assignment wins), quotes removed.
current_value() {
	local name=$1 line value=""
	while IFS= read -r line || [ -n "$line" ]; do
		if [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?$name=(.*)$ ]]; then
			value=${BASH_REMATCH[2]}
			value=${value%"${value##*[![:space:]]}"}
			if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
		fi
	done <"$file"
	printf '%s' "$value"
}

umask 077
if [ ! -e "$file" ]; then
	: >"$file"
	echo "Created $file."
fi
# Before any secret goes in: only the owner may read it, even if the file existed with other rights.
chmod 600 "$file"

for name in "${SECRETS[@]}"; do
	existing=$(current_value "$name")
	if [ -n "$existing" ]; then
		# 32 bytes take 43 characters in base64 and 64 in hex: anything shorter is too weak.
		if [ ${#existing} -lt 43 ]; then
			echo "$name: kept, but it is shorter than 32 random bytes: empty it in $file and re-run to replace it" >&2
		else
			echo "$name: kept (already set)"
		fi
		continue
	fi
	value=$(random_hex)
	if grep -Eq "^[[:space:]]*(export[[:space:]]+)?$name=" "$file"; then
		# An empty assignment (as in a copy of .env.example) is filled in where it stands.
		tmp=$(mktemp "$file.XXXXXX")
		# The value goes through the environment, not awk's arguments (those are visible in `ps`).
		SECRET_NAME=$name SECRET_VALUE=$value awk '
			!done && $0 ~ "^[[:space:]]*(export[[:space:]]+)?" ENVIRON["SECRET_NAME"] "=[[:space:]]*([\"'\''][\"'\''])?[[:space:]]*$" { print ENVIRON["SECRET_NAME"] "=" ENVIRON["SECRET_VALUE"]; done = 1; next }
			{ print }
		' "$file" >"$tmp"
		cat "$tmp" >"$file"
		rm -f "$tmp"
	else
		# Keep the file's last line intact when it has no final newline.
		if [ -s "$file" ] && [ "$(tail -c 1 "$file")" != "" ]; then echo >>"$file"; fi
		printf '%s=%s\n' "$name" "$value" >>"$file"
	fi
	echo "$name: generated"
done
echo "Secrets are in $file (mode 600). Keep a copy somewhere safe: backups do not contain them."
