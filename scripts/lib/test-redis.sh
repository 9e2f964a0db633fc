# Sourced by scripts/test-all.sh: makes redis-server available to the cluster tests (several Hearth
# nodes sharing one PostgreSQL and one Redis) and exports TEST_REDIS_SERVER_BIN. Each cluster test
# file starts its own throwaway server from it (tests/helpers/test-redis.ts: no persistence, only
# 127.0.0.1, files in a temporary folder, stopped at exit), because the tests restart Redis on
# purpose and must not disturb each other; the machine's own Redis service is never touched.
# When redis-server is not installed it is installed from Debian's packages if we may (root or
# password-less sudo); otherwise the cluster tests are skipped and the reason is printed.
#
#   ensure_test_redis                 install if needed, export TEST_REDIS_SERVER_BIN
#   start_test_redis / stop_test_redis  one shared throwaway server as TEST_REDIS_URL
#                                     (HEARTH_TEST_REDIS_PORT, default 6390), for manual runs

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"
	elif sudo -n true 2>/dev/null; then sudo "$@"
	else return 1
	fi
}

ensure_test_redis() {
	if ! command -v redis-server >/dev/null 2>&1; then
		echo "Installing redis-server (Debian package) for the cluster tests..."
		if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server >/dev/null 2>&1; then
			as_root env DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null 2>&1 || true
			as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server >/dev/null 2>&1 || true
		fi
	fi
	if ! command -v redis-server >/dev/null 2>&1; then
		export HEARTH_REDIS_SKIP_REASON="redis-server is not installed and could not be installed (needs root or sudo: apt-get install redis-server)"
		echo "Cluster tests: SKIPPED ($HEARTH_REDIS_SKIP_REASON)"
		return 0
	fi
	TEST_REDIS_SERVER_BIN=$(command -v redis-server)
	export TEST_REDIS_SERVER_BIN
	echo "Cluster tests: run with $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/Redis \1/p') ($TEST_REDIS_SERVER_BIN)"
}

start_test_redis() {
	if [ -n "${TEST_REDIS_URL:-}" ]; then return 0; fi
	ensure_test_redis
	[ -n "${TEST_REDIS_SERVER_BIN:-}" ] || return 0
	local port=${HEARTH_TEST_REDIS_PORT:-6390} i
	REDIS_TEST_DIR=$(mktemp -d /tmp/hearth-redis.XXXXXX)
	"$TEST_REDIS_SERVER_BIN" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$REDIS_TEST_DIR" \
		--daemonize yes --pidfile "$REDIS_TEST_DIR/redis.pid" --logfile "$REDIS_TEST_DIR/redis.log" >/dev/null 2>&1
	for i in $(seq 1 50); do
		[ -s "$REDIS_TEST_DIR/redis.pid" ] && redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break
		sleep 0.1
	done
	if ! redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then
		cat "$REDIS_TEST_DIR/redis.log" >&2 2>/dev/null
		echo "The throwaway redis-server did not start on 127.0.0.1:$port (see above)" >&2
		return 1
	fi
	export TEST_REDIS_URL="redis://127.0.0.1:$port"
	echo "Started a throwaway Redis on 127.0.0.1:$port."
}

stop_test_redis() {
	if [ -n "${REDIS_TEST_DIR:-}" ]; then
		if [ -s "$REDIS_TEST_DIR/redis.pid" ]; then kill "$(cat "$REDIS_TEST_DIR/redis.pid")" 2>/dev/null || true; fi
		rm -rf "$REDIS_TEST_DIR"
	fi
}
