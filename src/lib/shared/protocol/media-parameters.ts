// The mediasoup parameter objects a browser sends in call.* frames: DTLS parameters
// (call.transport.connect), RTP parameters (call.produce) and RTP capabilities (call.consume).
//
// They are checked here by shape before they reach mediasoup: the types, ranges and sizes of what
// mediasoup-client produces from the SDP of Chromium, Firefox and Safari, so junk (wrong types,
// huge arrays or strings, deep nesting) is refused with a clear `invalid` answer instead of going
// down to the worker. Whether the values make sense together (a codec the router has, matching
// payload types) is still mediasoup's own validation (ortc), which answers `invalid` as well.
//
// Unknown keys are dropped, not refused: a newer browser or mediasoup-client may add a field, and
// dropping it is what keeps both the call working and mediasoup from seeing it. Open-ended
// codec/extension `parameters` (fmtp) are records of scalars with bounded keys and values.
import * as v from 'valibot';
import { issueMessage } from '../validation.ts';

const MAX_CODECS = 64; // Chromium offers ~30 video entries (each codec with its RTX, RED, FEC)
const MAX_HEADER_EXTENSIONS = 32;
const MAX_ENCODINGS = 8; // simulcast uses 3 (Chromium allows 4)
const MAX_FEEDBACK = 16;
const MAX_FINGERPRINTS = 8;
const MAX_PARAMETERS = 32;

const text = (max: number) => v.pipe(v.string(), v.maxLength(max));
const integer = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const list = <T extends v.GenericSchema>(item: T, max: number) => v.pipe(v.array(item), v.maxLength(max));

const MediaKind = v.picklist(['audio', 'video']);
/** "audio/opus", "video/VP8", "video/rtx", "video/H264", "audio/telephone-event"… */
const MimeType = v.pipe(v.string(), v.maxLength(64), v.regex(/^(audio|video)\/[A-Za-z0-9][A-Za-z0-9._+-]*$/i, 'mimeType must be audio/… or video/…'));
const PayloadType = integer(0, 127);
const ClockRate = integer(1, 1_000_000);
const Channels = integer(1, 16);
const Ssrc = integer(0, 0xffffffff);
/** SDP fmtp parameters ("profile-level-id": "42e01f", "packetization-mode": 1, "apt": 96…). */
const CodecParameters = v.pipe(
	v.record(v.pipe(v.string(), v.minLength(1), v.maxLength(64)), v.union([text(256), v.pipe(v.number(), v.finite()), v.boolean()])),
	v.check((record) => Object.keys(record).length <= MAX_PARAMETERS, `at most ${MAX_PARAMETERS} codec parameters`)
);
/** Browsers write `{ type: "transport-cc", parameter: "" }`: the empty parameter is allowed. */
const RtcpFeedback = v.object({ type: v.pipe(v.string(), v.minLength(1), v.maxLength(32)), parameter: v.optional(text(32)) });
const ExtensionUri = v.pipe(v.string(), v.minLength(1), v.maxLength(256));

export const DtlsParametersSchema = v.object({
	role: v.optional(v.picklist(['auto', 'client', 'server'])),
	fingerprints: v.pipe(
		list(
			v.object({
				algorithm: v.picklist(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']),
				// RFC 8122: upper-case hex pairs separated by colons; browsers differ in case.
				value: v.pipe(v.string(), v.maxLength(191), v.regex(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2})*$/, 'a fingerprint is hex pairs separated by colons'))
			}),
			MAX_FINGERPRINTS
		),
		v.minLength(1, 'at least one fingerprint')
	)
});

export const RtpParametersSchema = v.object({
	mid: v.optional(text(32)),
	msid: v.optional(text(128)),
	codecs: v.pipe(
		list(
			v.object({
				mimeType: MimeType,
				payloadType: PayloadType,
				clockRate: ClockRate,
				channels: v.optional(Channels),
				parameters: v.optional(CodecParameters),
				rtcpFeedback: v.optional(list(RtcpFeedback, MAX_FEEDBACK))
			}),
			MAX_CODECS
		),
		v.minLength(1, 'at least one codec')
	),
	headerExtensions: v.optional(
		list(v.object({ uri: ExtensionUri, id: integer(1, 255), encrypt: v.optional(v.boolean()), parameters: v.optional(CodecParameters) }), MAX_HEADER_EXTENSIONS)
	),
	encodings: v.optional(
		list(
			v.object({
				ssrc: v.optional(Ssrc),
				// RFC 8851 rid-id: alphanumerics, "-" and "_".
				rid: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,32}$/, 'rid must be 1-32 letters, digits, - or _'))),
				codecPayloadType: v.optional(PayloadType),
				rtx: v.optional(v.object({ ssrc: Ssrc })),
				dtx: v.optional(v.boolean()),
				// "L1T3", "S3T3", "L3T3_KEY"…
				scalabilityMode: v.optional(v.pipe(v.string(), v.regex(/^[LS]\d{1,2}T\d{1,2}(_KEY)?(_SHIFT)?h?$/, 'scalabilityMode must look like L1T3'))),
				maxBitrate: v.optional(v.pipe(v.number(), v.finite(), v.minValue(0))),
				// What browsers keep in the encodings they report; mediasoup ignores them.
				active: v.optional(v.boolean()),
				scaleResolutionDownBy: v.optional(v.pipe(v.number(), v.finite(), v.minValue(1))),
				maxFramerate: v.optional(v.pipe(v.number(), v.finite(), v.minValue(0))),
				adaptivePtime: v.optional(v.boolean()),
				priority: v.optional(v.picklist(['very-low', 'low', 'medium', 'high'])),
				networkPriority: v.optional(v.picklist(['very-low', 'low', 'medium', 'high']))
			}),
			MAX_ENCODINGS
		)
	),
	rtcp: v.optional(v.object({ cname: v.optional(text(255)), reducedSize: v.optional(v.boolean()), mux: v.optional(v.boolean()) }))
});

export const RtpCapabilitiesSchema = v.object({
	codecs: v.optional(
		list(
			v.object({
				kind: MediaKind,
				mimeType: MimeType,
				preferredPayloadType: v.optional(PayloadType),
				clockRate: ClockRate,
				channels: v.optional(Channels),
				parameters: v.optional(CodecParameters),
				rtcpFeedback: v.optional(list(RtcpFeedback, MAX_FEEDBACK))
			}),
			MAX_CODECS
		)
	),
	headerExtensions: v.optional(
		list(
			v.object({
				kind: MediaKind,
				uri: ExtensionUri,
				preferredId: integer(1, 255),
				preferredEncrypt: v.optional(v.boolean()),
				direction: v.optional(v.picklist(['sendrecv', 'sendonly', 'recvonly', 'inactive']))
			}),
			MAX_HEADER_EXTENSIONS
		)
	)
});

/**
 * The wire form of a checked parameter object. Its static type stays a plain record: the client
 * hands over mediasoup-client's own types and the server mediasoup's, which differ in detail
 * (URI unions, `any` parameters) while being the same JSON; the runtime check is what matters.
 */
export function mediaParameters<T extends v.GenericSchema<unknown, Record<string, unknown>>>(schema: T) {
	return v.pipe(
		v.custom<Record<string, unknown>>((input) => typeof input === 'object' && input !== null && !Array.isArray(input), 'must be an object'),
		v.rawTransform(({ dataset, addIssue, NEVER }) => {
			const result = v.safeParse(schema, dataset.value);
			if (result.success) return result.output as Record<string, unknown>;
			// The path of the first problem, so a client developer can find it ("codecs.0.payloadType").
			const issue = result.issues[0];
			const path = issue.path?.map((item) => String(item.key)).join('.');
			// issueMessage leaves out the rejected value (error answers never echo what was sent).
			addIssue({ message: path ? `${path}: ${issueMessage(issue)}` : issueMessage(issue) });
			return NEVER;
		})
	);
}
