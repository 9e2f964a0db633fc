# Sourced by scripts/test-all.sh: makes sure a Chromium for the end-to-end tests exists. Installs
# Debian's package when we may (root or password-less sudo); browsers are never downloaded by a
# test tool. HEARTH_CHROMIUM (or CHROMIUM_PATH) points at another binary.
ensure_chromium() {
	local path="${HEARTH_CHROMIUM:-${CHROMIUM_PATH:-}}"
	[ -z "$path" ] && path=$(command -v chromium || command -v chromium-browser || true)
	if [ -z "$path" ]; then
		echo "Installing Chromium (Debian package) for the end-to-end tests..."
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null 2>&1 || true
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || true
		path=$(command -v chromium || true)
	fi
	if [ -z "$path" ]; then
		echo "Chromium is missing and could not be installed: run 'sudo apt-get install chromium' (or set HEARTH_CHROMIUM)." >&2
		return 1
	fi
	export HEARTH_CHROMIUM="$path"
}
