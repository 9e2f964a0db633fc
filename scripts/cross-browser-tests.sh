#!/usr/bin/env bash
# The cross-browser suite (tests/cross-browser/: a Firefox and a Chromium participant chat and call
# through the SFU), run inside the media network namespace (scripts/lib/media-namespace.sh) that
# Firefox needs to gather ICE candidates. Needs the built app (npm run build), firefox-esr, Chromium
# and a mediasoup worker; scripts/test-all.sh provides them. Writes a Vitest JSON report (first
# argument, default reports/cross-browser.json). Where the namespace cannot be made (not root), the
# suite is reported as skipped with the reason.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/media-namespace.sh
report="${1:-reports/cross-browser.json}"
mkdir -p "$(dirname "$report")"
vitest=(npx vitest run --project cross-browser --reporter=default --reporter=json "--outputFile.json=$report")

if [ -n "${HEARTH_CROSS_BROWSER_SKIP_REASON:-}" ]; then
	exec "${vitest[@]}"
fi
if reason=$(media_namespace_unavailable_reason); then
	echo "Cross-browser tests: in a network namespace of their own (SFU on $MEDIA_NAMESPACE_ADDRESS; nothing leaves it)"
	run_in_media_namespace "${vitest[@]}"
else
	echo "SKIP: cross-browser tests: $reason"
	HEARTH_CROSS_BROWSER_SKIP_REASON="$reason" exec "${vitest[@]}"
fi
