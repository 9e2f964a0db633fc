// The connection-quality indicator: RTT from the selected candidate pair, packet loss since the
// previous reading, and the good / fair / poor thresholds.
import { describe, expect, it } from 'vitest';
import { QualityMeter, rateConnection } from '#lib/client/calls/connection-quality.ts';

const report = (stats: Record<string, unknown>[]) => ({ forEach: (callback: (stat: { type: string }) => void) => stats.forEach((s) => callback(s as { type: string })) });

describe('connection quality', () => {
	it('rates by round-trip time and loss', () => {
		expect(rateConnection(40, 0)).toBe('good');
		expect(rateConnection(null, 0)).toBe('good');
		expect(rateConnection(200, 0)).toBe('fair');
		expect(rateConnection(40, 3)).toBe('fair');
		expect(rateConnection(450, 0)).toBe('poor');
		expect(rateConnection(40, 9)).toBe('poor');
	});

	it('reads RTT from the nominated candidate pair and loss since the previous reading', () => {
		const meter = new QualityMeter();
		const first = meter.update([
			report([
				{ type: 'candidate-pair', nominated: false, currentRoundTripTime: 0.9 },
				{ type: 'candidate-pair', nominated: true, currentRoundTripTime: 0.032 }
			]),
			report([{ type: 'inbound-rtp', packetsReceived: 1000, packetsLost: 100 }])
		]);
		expect(first).toEqual({ level: 'poor', rttMs: 32, lossPercent: 9.1 });
		// 500 more packets, 5 more lost: 1 % now, whatever happened before.
		const second = meter.update([report([{ type: 'candidate-pair', nominated: true, currentRoundTripTime: 0.032 }, { type: 'inbound-rtp', packetsReceived: 1495, packetsLost: 105 }])]);
		expect(second).toEqual({ level: 'good', rttMs: 32, lossPercent: 1 });
	});
});
