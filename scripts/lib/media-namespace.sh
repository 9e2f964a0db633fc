# Sourced by scripts/test-all.sh: runs a command in a network namespace of its own where browsers
# gather ICE candidates and call media stays on the machine.
#
# Firefox gathers no ICE candidates on loopback alone, nor in a namespace without a default route;
# Chromium needs a flag for loopback candidates. So the cross-browser tests run in a fresh namespace
# (unshare --net: it goes away with the command, nothing to clean up) holding loopback and a veth
# pair whose two ends both stay inside it, with addresses on both and a default route through the
# far end. The test's SFU listens on and announces the near end's address (HEARTH_MEDIA_ADDRESS).
# The namespace has no link to the machine's network: nothing sent in it leaves it, and nothing
# outside (the throwaway PostgreSQL included) can be reached from it.
#
# Needs root (or CAP_SYS_ADMIN and CAP_NET_ADMIN); CI runs as root.

# The near end (the SFU's address) and the far end (the default route's gateway), in a range
# reserved for private use that nothing else on the machine sees (the namespace is its own world).
MEDIA_NAMESPACE_ADDRESS=10.231.0.1
MEDIA_NAMESPACE_GATEWAY=10.231.0.2

media_namespace_setup() {
	cat <<EOF
set -e
ip link set lo up
ip link add hearth-v0 type veth peer name hearth-v1
ip addr add $MEDIA_NAMESPACE_ADDRESS/30 dev hearth-v0
ip addr add $MEDIA_NAMESPACE_GATEWAY/30 dev hearth-v1
ip link set hearth-v0 up
ip link set hearth-v1 up
ip route add default via $MEDIA_NAMESPACE_GATEWAY dev hearth-v0
EOF
}

# Prints why the namespace cannot be made here (and returns 1), or nothing (and returns 0).
media_namespace_unavailable_reason() {
	if ! command -v unshare >/dev/null 2>&1 || ! command -v ip >/dev/null 2>&1; then
		echo "the unshare and ip commands are missing (Debian: util-linux, iproute2)"
		return 1
	fi
	local output
	if ! output=$(unshare --net -- bash -c "$(media_namespace_setup)" 2>&1); then
		echo "cannot create a network namespace with a veth pair here (needs root or CAP_SYS_ADMIN + CAP_NET_ADMIN): $(echo "$output" | head -1)"
		return 1
	fi
	return 0
}

# run_in_media_namespace CMD [ARGS...]: CMD runs inside a fresh namespace set up as above, with
# HEARTH_MEDIA_ADDRESS set to the SFU's address there.
run_in_media_namespace() {
	HEARTH_MEDIA_ADDRESS="$MEDIA_NAMESPACE_ADDRESS" unshare --net -- bash -c "$(media_namespace_setup)"'
exec "$@"' media-namespace "$@"
}
