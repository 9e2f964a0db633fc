# Sourced by scripts/test-all.sh: provides TEST_DATABASE_URL for the PostgreSQL test project.
# If it is already set, that server is used. Otherwise a private, throwaway PostgreSQL cluster is
# created in a temporary folder (trust auth, listening only on 127.0.0.1) and removed at exit, so
# the machine's own PostgreSQL configuration is never touched. When PostgreSQL is not installed it
# is installed from Debian's packages if we may (root or password-less sudo); otherwise the
# PostgreSQL tests are skipped and the reason is printed.

postgres_bin_dir() {
	local dir
	dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"
	elif sudo -n true 2>/dev/null; then sudo "$@"
	else return 1
	fi
}

start_test_postgres() {
	if [ -n "${TEST_DATABASE_URL:-}" ]; then
		echo "PostgreSQL tests use TEST_DATABASE_URL."
		return 0
	fi
	local bin
	bin=$(postgres_bin_dir || true)
	if [ -z "$bin" ]; then
		echo "Installing PostgreSQL (Debian package) for the integration tests..."
		if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >/dev/null 2>&1; then
			as_root env DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null 2>&1 || true
			as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >/dev/null 2>&1 || true
		fi
		bin=$(postgres_bin_dir || true)
	fi
	if [ -z "$bin" ]; then
		export HEARTH_POSTGRES_SKIP_REASON="PostgreSQL is not installed and could not be installed (needs root or sudo: apt-get install postgresql)"
		echo "SKIP: $HEARTH_POSTGRES_SKIP_REASON"
		return 0
	fi

	# PostgreSQL refuses to run as root: as root, the cluster belongs to the 'postgres' system user.
	local run=()
	PG_TEST_DIR=$(mktemp -d /tmp/hearth-pg.XXXXXX)
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
		chown postgres "$PG_TEST_DIR"
		run=(runuser -u postgres --)
	fi
	local port=${HEARTH_TEST_PG_PORT:-54329}
	"${run[@]}" "$bin/initdb" -D "$PG_TEST_DIR/data" --auth=trust --username=postgres --encoding=UTF8 >"$PG_TEST_DIR/initdb.log" 2>&1 || {
		cat "$PG_TEST_DIR/initdb.log" >&2
		export HEARTH_POSTGRES_SKIP_REASON="initdb failed (see above)"
		return 0
	}
	# fsync stays on: the tests check durability across server kills, so the database must be honest.
	"${run[@]}" "$bin/pg_ctl" -D "$PG_TEST_DIR/data" -l "$PG_TEST_DIR/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$PG_TEST_DIR -c max_connections=300" start >/dev/null || {
		cat "$PG_TEST_DIR/server.log" >&2
		export HEARTH_POSTGRES_SKIP_REASON="the throwaway PostgreSQL server did not start (see above)"
		return 0
	}
	PG_TEST_STOP=("${run[@]}" "$bin/pg_ctl" -D "$PG_TEST_DIR/data" -m fast stop)
	export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
	echo "Started a throwaway PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port for the tests."
}

stop_test_postgres() {
	if [ -n "${PG_TEST_DIR:-}" ]; then
		"${PG_TEST_STOP[@]}" >/dev/null 2>&1 || true
		rm -rf "$PG_TEST_DIR"
	fi
}
