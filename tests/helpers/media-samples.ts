// What mediasoup-client sends from each browser family, in the shapes it derives from their SDP:
// DTLS parameters (transport 'connect'), RTP parameters (transport 'produce', microphone and
// simulcast camera) and the device's receive RTP capabilities (call.consume). Values are the ones
// these browsers write (payload types, fmtp parameters, feedback with empty parameters, Firefox's
// braced cnames and track ids); tests hold the frame schemas and mediasoup itself to them.

const sha256 = Array.from({ length: 32 }, (_, i) => ((i * 37 + 11) & 0xff).toString(16).padStart(2, '0').toUpperCase()).join(':');

export type BrowserSample = {
	dtlsParameters: Record<string, unknown>;
	mic: Record<string, unknown>;
	camera: Record<string, unknown>;
	recvRtpCapabilities: Record<string, unknown>;
};

const chromeVideoFeedback = [
	{ type: 'goog-remb', parameter: '' },
	{ type: 'transport-cc', parameter: '' },
	{ type: 'ccm', parameter: 'fir' },
	{ type: 'nack', parameter: '' },
	{ type: 'nack', parameter: 'pli' }
];

export const chromium: BrowserSample = {
	dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: sha256 }] },
	mic: {
		mid: '0',
		msid: '2b0f9a3c-5d7e-4f10-8a2b-3c4d5e6f7a8b 9c8d7e6f-5a4b-4c3d-9e2f-1a0b9c8d7e6f',
		codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1, usedtx: 1 }, rtcpFeedback: [{ type: 'transport-cc', parameter: '' }] }],
		headerExtensions: [
			{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4, encrypt: false, parameters: {} },
			{ uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', id: 2, encrypt: false, parameters: {} },
			{ uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', id: 3, encrypt: false, parameters: {} },
			{ uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: 1, encrypt: false, parameters: {} }
		],
		encodings: [{ ssrc: 3_735_928_559, dtx: false }],
		rtcp: { cname: 'Xq9bH2kLm4Np7RsT', reducedSize: true }
	},
	camera: {
		mid: '1',
		msid: '2b0f9a3c-5d7e-4f10-8a2b-3c4d5e6f7a8b 0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a',
		codecs: [
			{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, parameters: {}, rtcpFeedback: chromeVideoFeedback },
			{ mimeType: 'video/rtx', payloadType: 97, clockRate: 90000, parameters: { apt: 96 }, rtcpFeedback: [] }
		],
		headerExtensions: [
			{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4, encrypt: false, parameters: {} },
			{ uri: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id', id: 10, encrypt: false, parameters: {} },
			{ uri: 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id', id: 11, encrypt: false, parameters: {} },
			{ uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', id: 2, encrypt: false, parameters: {} },
			{ uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', id: 3, encrypt: false, parameters: {} },
			{ uri: 'urn:3gpp:video-orientation', id: 13, encrypt: false, parameters: {} },
			{ uri: 'urn:ietf:params:rtp-hdrext:toffset', id: 14, encrypt: false, parameters: {} }
		],
		encodings: [
			{ active: true, scaleResolutionDownBy: 4, maxBitrate: 150_000, rid: 'r0', scalabilityMode: 'L1T3', dtx: false },
			{ active: true, scaleResolutionDownBy: 2, maxBitrate: 500_000, rid: 'r1', scalabilityMode: 'L1T3', dtx: false },
			{ active: true, scaleResolutionDownBy: 1, maxBitrate: 1_500_000, rid: 'r2', scalabilityMode: 'L1T3', dtx: false }
		],
		rtcp: { cname: 'Xq9bH2kLm4Np7RsT', reducedSize: true }
	},
	recvRtpCapabilities: {
		codecs: [
			{ kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 100, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 }, rtcpFeedback: [{ type: 'transport-cc', parameter: '' }] },
			{ kind: 'video', mimeType: 'video/VP8', preferredPayloadType: 101, clockRate: 90000, parameters: {}, rtcpFeedback: chromeVideoFeedback },
			{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 102, clockRate: 90000, parameters: { apt: 101 }, rtcpFeedback: [] }
		],
		headerExtensions: [
			{ kind: 'audio', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 1, preferredEncrypt: false, direction: 'sendrecv' },
			{ kind: 'video', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 1, preferredEncrypt: false, direction: 'sendrecv' },
			{ kind: 'video', uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', preferredId: 4, preferredEncrypt: false, direction: 'sendrecv' },
			{ kind: 'video', uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', preferredId: 5, preferredEncrypt: false, direction: 'sendrecv' },
			{ kind: 'audio', uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', preferredId: 10, preferredEncrypt: false, direction: 'sendrecv' },
			{ kind: 'video', uri: 'urn:3gpp:video-orientation', preferredId: 11, preferredEncrypt: false, direction: 'sendrecv' },
			{ kind: 'video', uri: 'urn:ietf:params:rtp-hdrext:toffset', preferredId: 12, preferredEncrypt: false, direction: 'sendrecv' }
		]
	}
};

export const firefox: BrowserSample = {
	dtlsParameters: { role: 'server', fingerprints: [{ algorithm: 'sha-256', value: sha256.toLowerCase() }] },
	mic: {
		mid: '0',
		msid: '{7f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f} {a0b1c2d3-e4f5-4a6b-9c8d-7e6f5a4b3c2d}',
		codecs: [{ mimeType: 'audio/opus', payloadType: 109, clockRate: 48000, channels: 2, parameters: { maxplaybackrate: 48000, stereo: 1, useinbandfec: 1 }, rtcpFeedback: [] }],
		headerExtensions: [
			{ uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: 1, encrypt: false, parameters: {} },
			{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 3, encrypt: false, parameters: {} }
		],
		encodings: [{ ssrc: 1_234_567, dtx: false }],
		rtcp: { cname: '{5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9}', reducedSize: false }
	},
	camera: {
		mid: '1',
		codecs: [
			{ mimeType: 'video/VP8', payloadType: 120, clockRate: 90000, parameters: { 'max-fs': 12288, 'max-fr': 60 }, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'goog-remb' }, { type: 'transport-cc' }] },
			{ mimeType: 'video/rtx', payloadType: 124, clockRate: 90000, parameters: { apt: 120 }, rtcpFeedback: [] }
		],
		headerExtensions: [
			{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 3, encrypt: false, parameters: {} },
			{ uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', id: 4, encrypt: false, parameters: {} },
			{ uri: 'urn:ietf:params:rtp-hdrext:toffset', id: 5, encrypt: false, parameters: {} },
			{ uri: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id', id: 7, encrypt: false, parameters: {} },
			{ uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', id: 8, encrypt: false, parameters: {} }
		],
		encodings: [
			{ rid: 'r0', active: true, scaleResolutionDownBy: 4, maxBitrate: 150_000 },
			{ rid: 'r1', active: true, scaleResolutionDownBy: 2, maxBitrate: 500_000 },
			{ rid: 'r2', active: true, scaleResolutionDownBy: 1, maxBitrate: 1_500_000 }
		],
		rtcp: { cname: '{5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9}', reducedSize: false }
	},
	recvRtpCapabilities: {
		codecs: [
			{ kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 100, clockRate: 48000, channels: 2, parameters: { maxplaybackrate: 48000, stereo: 1, useinbandfec: 1 }, rtcpFeedback: [] },
			{ kind: 'video', mimeType: 'video/VP8', preferredPayloadType: 101, clockRate: 90000, parameters: { 'max-fs': 12288, 'max-fr': 60 }, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'goog-remb' }, { type: 'transport-cc' }] },
			{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 102, clockRate: 90000, parameters: { apt: 101 }, rtcpFeedback: [] }
		],
		headerExtensions: [
			{ kind: 'audio', uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', preferredId: 10, preferredEncrypt: false, direction: 'sendrecv' },
			{ kind: 'audio', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 1, preferredEncrypt: false, direction: 'sendrecv' },
			{ kind: 'video', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 1, preferredEncrypt: false, direction: 'sendrecv' },
			{ kind: 'video', uri: 'urn:ietf:params:rtp-hdrext:toffset', preferredId: 12, preferredEncrypt: false, direction: 'sendrecv' }
		]
	}
};

export const safari: BrowserSample = {
	dtlsParameters: { role: 'auto', fingerprints: [{ algorithm: 'sha-256', value: sha256 }] },
	mic: {
		mid: '0',
		codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 }, rtcpFeedback: [{ type: 'transport-cc', parameter: '' }] }],
		headerExtensions: [
			{ uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: 1, encrypt: false, parameters: {} },
			{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 9, encrypt: false, parameters: {} }
		],
		encodings: [{ ssrc: 98_765_432 }],
		rtcp: { cname: 'hJ3kL5mN7pQ9rS1t', reducedSize: true }
	},
	// Safari without simulcast: one encoding with its RTX stream, as mediasoup-client reports it.
	camera: {
		mid: '1',
		codecs: [
			{ mimeType: 'video/VP8', payloadType: 98, clockRate: 90000, parameters: {}, rtcpFeedback: chromeVideoFeedback },
			{ mimeType: 'video/rtx', payloadType: 99, clockRate: 90000, parameters: { apt: 98 }, rtcpFeedback: [] }
		],
		headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 9, encrypt: false, parameters: {} }],
		encodings: [{ ssrc: 11_223_344, rtx: { ssrc: 55_667_788 }, maxBitrate: 1_000_000 }],
		rtcp: { cname: 'hJ3kL5mN7pQ9rS1t', reducedSize: true }
	},
	// Safari's full list as the device reports it before filtering: H.264 profiles, RED, FEC, CN.
	recvRtpCapabilities: {
		codecs: [
			{ kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 100, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 }, rtcpFeedback: [{ type: 'transport-cc', parameter: '' }] },
			{ kind: 'audio', mimeType: 'audio/red', preferredPayloadType: 63, clockRate: 48000, channels: 2, parameters: {}, rtcpFeedback: [] },
			{ kind: 'audio', mimeType: 'audio/CN', preferredPayloadType: 13, clockRate: 8000, channels: 1, rtcpFeedback: [] },
			{ kind: 'audio', mimeType: 'audio/telephone-event', preferredPayloadType: 126, clockRate: 8000, channels: 1, rtcpFeedback: [] },
			{ kind: 'video', mimeType: 'video/H264', preferredPayloadType: 103, clockRate: 90000, parameters: { 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '640c1f' }, rtcpFeedback: chromeVideoFeedback },
			{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 104, clockRate: 90000, parameters: { apt: 103 }, rtcpFeedback: [] },
			{ kind: 'video', mimeType: 'video/H265', preferredPayloadType: 105, clockRate: 90000, parameters: {}, rtcpFeedback: chromeVideoFeedback },
			{ kind: 'video', mimeType: 'video/VP8', preferredPayloadType: 101, clockRate: 90000, parameters: {}, rtcpFeedback: chromeVideoFeedback },
			{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 102, clockRate: 90000, parameters: { apt: 101 }, rtcpFeedback: [] },
			{ kind: 'video', mimeType: 'video/red', preferredPayloadType: 106, clockRate: 90000, rtcpFeedback: [] },
			{ kind: 'video', mimeType: 'video/ulpfec', preferredPayloadType: 107, clockRate: 90000, rtcpFeedback: [] }
		],
		headerExtensions: [
			{ kind: 'audio', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 1, preferredEncrypt: false, direction: 'sendrecv' },
			{ kind: 'video', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 1, preferredEncrypt: false, direction: 'sendrecv' },
			{ kind: 'video', uri: 'urn:3gpp:video-orientation', preferredId: 11, preferredEncrypt: false, direction: 'sendrecv' }
		]
	}
};

export const BROWSERS = { chromium, firefox, safari } as const;
