// Files the attachment tests send.

/** A 2×2 red PNG (valid, so the browser decodes and shows it). */
export const PNG_2X2 = Buffer.from(
	'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==',
	'base64'
);
