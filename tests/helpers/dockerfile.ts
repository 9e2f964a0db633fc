// Reads the repository's Dockerfile (with dockerfile-ast, the parser of the Docker language server)
// into stages the tests can check and reproduce without a Docker engine: what each stage copies and
// from where, what it runs, its working folder, user, environment and command.
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { DockerfileParser, type Env, type Instruction } from 'dockerfile-ast';

export type CopyStep = {
	/** The stage copied from (--from=), or null for the build context. */
	from: string | null;
	sources: string[];
	/** Absolute destination in the image. */
	dest: string;
	/** The destination as written (a trailing slash means "into this folder"). */
	destWritten: string;
	flags: Record<string, string | null>;
};

export type Stage = {
	name: string | null;
	/** The base image with build arguments replaced by their defaults. */
	image: string;
	workdir: string;
	user: string | null;
	env: Record<string, string>;
	copies: CopyStep[];
	/** RUN commands as written (shell form). */
	runs: string[];
	cmd: string[] | null;
	healthcheck: string | null;
	volumes: string[];
	/** Every instruction in order, for checks that look at all of them. */
	instructions: { keyword: string; text: string }[];
};

export type ParsedDockerfile = { args: Record<string, string>; stages: Stage[] };

function substitute(text: string, variables: Record<string, string>): string {
	return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => variables[(braced ?? bare)!] ?? whole);
}

function execForm(instruction: Instruction): string[] | null {
	const content = instruction.getArgumentsContent();
	if (!content) return null;
	try {
		const parsed: unknown = JSON.parse(content);
		return Array.isArray(parsed) ? parsed.map(String) : null;
	} catch {
		return ['/bin/sh', '-c', content];
	}
}

export function parseDockerfile(path: string): ParsedDockerfile {
	const dockerfile = DockerfileParser.parse(readFileSync(path, 'utf8'));
	const args: Record<string, string> = {};
	for (const arg of dockerfile.getInitialARGs()) {
		const property = arg.getProperty();
		if (property?.getName()) args[property.getName()] = property.getValue() ?? '';
	}
	const stages: Stage[] = [];
	let stage: Stage | undefined;
	for (const instruction of dockerfile.getInstructions()) {
		const keyword = instruction.getKeyword();
		const text = instruction.getArgumentsContent() ?? '';
		if (keyword === 'FROM') {
			const [image = '', as, name] = instruction.getArguments().map((a) => a.getValue()).filter((v) => !v.startsWith('--'));
			stage = {
				name: as?.toUpperCase() === 'AS' ? (name ?? null) : null,
				image: substitute(image, args),
				workdir: '/',
				user: null,
				env: {},
				copies: [],
				runs: [],
				cmd: null,
				healthcheck: null,
				volumes: [],
				instructions: []
			};
			stages.push(stage);
		}
		if (!stage) continue;
		stage.instructions.push({ keyword, text });
		switch (keyword) {
			case 'WORKDIR':
				stage.workdir = posix.resolve(stage.workdir, instruction.getArguments()[0]!.getValue());
				break;
			case 'USER':
				stage.user = instruction.getArguments()[0]?.getValue() ?? null;
				break;
			case 'ENV':
				for (const property of (instruction as Env).getProperties()) stage.env[property.getName()] = property.getValue() ?? '';
				break;
			case 'RUN':
				stage.runs.push(text);
				break;
			case 'CMD':
				stage.cmd = execForm(instruction);
				break;
			case 'HEALTHCHECK':
				stage.healthcheck = text;
				break;
			case 'VOLUME':
				stage.volumes.push(...(execForm(instruction) ?? []).filter((v) => v !== '/bin/sh' && v !== '-c'));
				break;
			case 'COPY':
			case 'ADD': {
				const flags: Record<string, string | null> = {};
				for (const flag of (instruction as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] }).getFlags()) {
					flags[flag.getName()] = flag.getValue();
				}
				const values = instruction.getArguments().map((a) => a.getValue()).filter((v) => !v.startsWith('--'));
				const destWritten = values.at(-1)!;
				stage.copies.push({
					from: flags.from ?? null,
					sources: values.slice(0, -1),
					dest: posix.resolve(stage.workdir, destWritten),
					destWritten,
					flags
				});
				break;
			}
		}
	}
	return { args, stages };
}

/** Whether a path (relative to the build context) is left out of it by .dockerignore. */
export function dockerIgnored(patterns: string[], relativePath: string): boolean {
	let ignored = false;
	for (const raw of patterns) {
		const negated = raw.startsWith('!');
		const pattern = posix.normalize((negated ? raw.slice(1) : raw).replace(/^\/+/, ''));
		const matches =
			relativePath === pattern || relativePath.startsWith(`${pattern}/`) || posix.matchesGlob(relativePath, pattern) || posix.matchesGlob(relativePath, `${pattern}/**`);
		if (matches) ignored = !negated;
	}
	return ignored;
}

export function readDockerignore(path: string): string[] {
	return readFileSync(path, 'utf8')
		.split('\n')
		.map((line) => line.trim())
		.filter((line) => line && !line.startsWith('#'));
}
