// The connection-quality indicator: round-trip time and packet loss of this browser's own media
// connections, read from WebRTC statistics every few seconds, rated good / fair / poor.

export type QualityLevel = 'good' | 'fair' | 'poor';
export type ConnectionQuality = { level: QualityLevel; rttMs: number | null; lossPercent: number };

// Thresholds from common VoIP guidance (ITU-T G.114: below 150 ms one-way delay is unnoticeable
// in conversation, above 400 ms it breaks turn-taking; Opus with FEC hides ~2 % loss, video stalls
// visibly above ~8 %). RTT here is a round trip to the SFU, which is about the one-way delay
// between two people through it.
const GOOD_RTT_MS = 150;
const POOR_RTT_MS = 400;
const GOOD_LOSS_PERCENT = 2;
const POOR_LOSS_PERCENT = 8;

export function rateConnection(rttMs: number | null, lossPercent: number): QualityLevel {
	if ((rttMs !== null && rttMs > POOR_RTT_MS) || lossPercent > POOR_LOSS_PERCENT) return 'poor';
	if ((rttMs !== null && rttMs > GOOD_RTT_MS) || lossPercent > GOOD_LOSS_PERCENT) return 'fair';
	return 'good';
}

type Stat = { type: string; [key: string]: unknown };

/** Loss since the previous reading, not since the call began: a bad minute an hour ago is no news. */
export class QualityMeter {
	#received = 0;
	#lost = 0;

	/** Reads the stats of the send and receive transports (RTCStatsReport-like maps). */
	update(reports: Iterable<{ forEach(callback: (stat: Stat) => void): void }>): ConnectionQuality {
		let rtt: number | null = null;
		let received = 0;
		let lost = 0;
		for (const report of reports) {
			report.forEach((stat) => {
				if (stat.type === 'candidate-pair' && (stat.nominated === true || stat.selected === true) && typeof stat.currentRoundTripTime === 'number') {
					rtt = Math.max(rtt ?? 0, stat.currentRoundTripTime * 1000);
				} else if (stat.type === 'inbound-rtp') {
					received += Number(stat.packetsReceived ?? 0);
					lost += Math.max(0, Number(stat.packetsLost ?? 0));
				} else if (stat.type === 'remote-inbound-rtp' && typeof stat.roundTripTime === 'number' && rtt === null) {
					rtt = stat.roundTripTime * 1000;
				}
			});
		}
		const deltaReceived = Math.max(0, received - this.#received);
		const deltaLost = Math.max(0, lost - this.#lost);
		this.#received = received;
		this.#lost = lost;
		const lossPercent = deltaReceived + deltaLost > 0 ? (100 * deltaLost) / (deltaReceived + deltaLost) : 0;
		const rttMs = rtt === null ? null : Math.round(rtt);
		return { level: rateConnection(rttMs, lossPercent), rttMs, lossPercent: Math.round(lossPercent * 10) / 10 };
	}
}
