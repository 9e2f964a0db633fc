# Sourced by scripts/test-all.sh: makes sure a Firefox exists for the cross-browser tests
# (tests/cross-browser/). Installs Debian's firefox-esr when we may (root or password-less sudo),
# like ensure-chromium.sh; browsers are never downloaded by a test tool (puppeteer-core drives this
# one over WebDriver BiDi). HEARTH_FIREFOX points at another binary.
#
# A Firefox that cannot be installed is not an error of the suite: the cross-browser tests are then
# reported as skipped with the reason (HEARTH_CROSS_BROWSER_SKIP_REASON), like the proxy tests.
ensure_firefox() {
	local path="${HEARTH_FIREFOX:-}"
	[ -z "$path" ] && path=$(command -v firefox-esr || command -v firefox || true)
	if [ -z "$path" ]; then
		echo "Installing Firefox ESR (Debian package) for the cross-browser tests..."
		if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends firefox-esr >/dev/null 2>&1; then
			as_root env DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null 2>&1 || true
			as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends firefox-esr >/dev/null 2>&1 || true
		fi
		path=$(command -v firefox-esr || true)
	fi
	if [ -z "$path" ]; then
		export HEARTH_CROSS_BROWSER_SKIP_REASON="Firefox is missing and could not be installed (needs root or sudo: apt-get install firefox-esr, or set HEARTH_FIREFOX)"
		echo "SKIP: $HEARTH_CROSS_BROWSER_SKIP_REASON; the cross-browser tests are skipped."
		return 0
	fi
	export HEARTH_FIREFOX="$path"
	echo "Cross-browser tests: $("$path" --version 2>/dev/null | head -1)"
}
