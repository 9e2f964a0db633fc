# Sourced by scripts/test-all.sh: makes sure a real Prometheus text-format parser is there for the
# /metrics tests — Python's prometheus_client (Debian package python3-prometheus-client, ~100 kB;
# promtool would mean installing the whole Prometheus server). Installs it when we may (root or
# password-less sudo, uses as_root from test-postgres.sh). Never fatal: without it the tests that
# parse /metrics are skipped and say why. Exports HEARTH_PROMETHEUS_PYTHON, the interpreter to use.
python_with_prometheus_client() {
	local candidate
	for candidate in "${HEARTH_PROMETHEUS_PYTHON:-}" python3 /usr/bin/python3; do
		[ -n "$candidate" ] || continue
		command -v "$candidate" >/dev/null 2>&1 || continue
		if "$candidate" -c 'import prometheus_client.parser' >/dev/null 2>&1; then
			command -v "$candidate"
			return 0
		fi
	done
	return 1
}

ensure_prometheus_parser() {
	local python
	python=$(python_with_prometheus_client) || {
		echo "Installing python3-prometheus-client (Debian package) for the /metrics tests..."
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-prometheus-client >/dev/null 2>&1 ||
			{ as_root env DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null 2>&1 &&
				as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-prometheus-client >/dev/null 2>&1; } || true
		python=$(python_with_prometheus_client) || {
			echo "python3-prometheus-client is missing and could not be installed: the tests that parse /metrics will be skipped." >&2
			return 0
		}
	}
	export HEARTH_PROMETHEUS_PYTHON="$python"
}
