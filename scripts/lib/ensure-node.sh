# Sourced by the set-up scripts: makes sure `node` on PATH is Node >= 22.17 (SvelteKit 3, Vite 8 and
# Vitest 5 need it). When the system Node is older, Node 24 LTS is installed from the npm registry
# (package node-linux-<arch>, just the binary) into ~/.cache/hearth-node24 and put first on PATH.
# Idempotent: ~6 s the first time, instant afterwards.
NODE_VERSION_WANTED=24.21.0

node_is_recent() {
	command -v node >/dev/null 2>&1 || return 1
	node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=17)?0:1)'
}

# npm under a non-system node can miss the system CA bundle configured in /usr/etc/npmrc.
if [ -z "${npm_config_cafile:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
	export npm_config_cafile=/etc/ssl/certs/ca-certificates.crt
fi

if ! node_is_recent; then
	prefix="${HEARTH_NODE_PREFIX:-$HOME/.cache/hearth-node24}"
	if [ ! -x "$prefix/bin/node" ]; then
		case "$(uname -m)" in
			x86_64) arch=x64 ;;
			aarch64 | arm64) arch=arm64 ;;
			*) echo "Unsupported CPU $(uname -m): install Node.js >= 22.17 yourself." >&2; exit 1 ;;
		esac
		if ! command -v npm >/dev/null 2>&1; then
			echo "npm is needed to install Node 24 (apt-get install npm), or install Node.js >= 22.17 yourself." >&2
			exit 1
		fi
		echo "Installing Node ${NODE_VERSION_WANTED} into $prefix (the system Node is too old)..."
		npm install --global --no-fund --no-audit --prefix "$prefix" "node-linux-${arch}@${NODE_VERSION_WANTED}" >/dev/null
	fi
	export PATH="$prefix/bin:$PATH"
fi
# Native add-ons must be built against the running Node's headers, not a system-wide nodedir.
export npm_config_nodedir="$(dirname "$(dirname "$(command -v node)")")"

# Installs dependencies when node_modules is missing or older than the lock file.
ensure_dependencies() {
	if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
		echo "Installing dependencies (npm ci)..."
		npm ci --no-fund --no-audit
	fi
}
