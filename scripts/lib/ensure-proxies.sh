# Sourced by scripts/test-all.sh: makes sure nginx and Caddy exist for the reverse-proxy tests
# (tests/e2e/reverse-proxy.spec.ts runs the configurations of docs/self-hosting/ with them).
# Installs Debian's packages when we may (root or password-less sudo). The tests only need the
# binaries: they run each proxy from a temporary folder on loopback ports, so a service the package
# installs and starts (on ports 80/443) is stopped and disabled again. A proxy that cannot be
# installed is not an error: its tests are reported as skipped, with the reason.
# HEARTH_NGINX / HEARTH_CADDY point at other binaries.
ensure_proxies() {
	local kind path missing=()
	for kind in nginx caddy; do
		path=$(proxy_binary "$kind")
		[ -z "$path" ] && missing+=("$kind")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "Installing ${missing[*]} (Debian packages) for the reverse-proxy tests..."
		if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
			as_root env DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null 2>&1 || true
			as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || true
		fi
		for kind in "${missing[@]}"; do
			# Only services this script just installed: one the machine already had is left alone.
			if [ -n "$(proxy_binary "$kind")" ] && command -v systemctl >/dev/null 2>&1; then
				as_root systemctl disable --now "$kind" >/dev/null 2>&1 || true
			fi
		done
	fi
	for kind in nginx caddy; do
		path=$(proxy_binary "$kind")
		if [ -n "$path" ]; then
			if [ "$kind" = nginx ]; then export HEARTH_NGINX="$path"; else export HEARTH_CADDY="$path"; fi
		else
			echo "SKIP: $kind is missing and could not be installed (needs root or sudo: apt-get install $kind); its reverse-proxy tests are skipped."
		fi
	done
	return 0
}

proxy_binary() {
	local override
	if [ "$1" = nginx ]; then override="${HEARTH_NGINX:-}"; else override="${HEARTH_CADDY:-}"; fi
	if [ -n "$override" ]; then
		[ -x "$override" ] && echo "$override"
		return 0
	fi
	# nginx lives in /usr/sbin, which an unprivileged user's PATH often lacks.
	command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || true
}
