// Several real Hearth processes in cluster mode on one PostgreSQL database and one Redis, the way
// operators run them behind a load balancer, plus a TCP load balancer for tests where clients must
// not choose their node (a killed node's clients reconnect through it to another one).
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { TestClient } from './clients.ts';
import { createTestDatabase, startServer, type TestDatabase, type TestServer } from './test-server.ts';
import { startTestRedis, type TestRedis } from './test-redis.ts';

/** The public origin every node serves (what a load balancer's address would be). */
export const CLUSTER_ORIGIN = 'http://hearth.test';

export type TestCluster = {
	redis: TestRedis;
	database: TestDatabase;
	nodes: TestServer[];
	/** Starts node `index` again (after a kill or stop), same id, port and settings. */
	restartNode(index: number): Promise<TestServer>;
	stop(): Promise<void>;
};

/** `perNode[i]` adds to (or overrides) node i's environment, e.g. CALL_WORKERS=0 for a node without calls. */
export async function startTestCluster(count = 3, env: Record<string, string> = {}, perNode: Record<string, string>[] = []): Promise<TestCluster> {
	const redis = await startTestRedis();
	const database = await createTestDatabase();
	// Shared by every node: a CSRF token or cookie issued by one is honoured by the others.
	const appSecret = randomBytes(32).toString('hex');
	const nodeEnv = (index: number) => ({
		REDIS_URL: redis.url,
		NODE_ID: `node-${String.fromCharCode(97 + index)}`,
		APP_SECRET: appSecret,
		ORIGIN: CLUSTER_ORIGIN,
		// The tests read /metrics directly (no proxy in between).
		METRICS_ALLOWLIST: '127.0.0.1',
		...env,
		...perNode[index]
	});
	const start = async (index: number, port?: number) => {
		const server = await startServer({ database, env: nodeEnv(index), ...(port ? { port } : {}) });
		// Clients send the cluster's origin, whichever node they reach.
		return Object.assign(server, { origin: CLUSTER_ORIGIN });
	};
	// The first node migrates the empty database; the others then find nothing to do.
	const nodes = [await start(0)];
	nodes.push(...(await Promise.all(Array.from({ length: count - 1 }, (_, i) => start(i + 1)))));
	return {
		redis,
		database,
		nodes,
		async restartNode(index) {
			const old = nodes[index]!;
			await old.stop();
			const fresh = await start(index, old.port);
			nodes[index] = Object.assign(old, fresh);
			return old;
		},
		async stop() {
			await Promise.all(nodes.map((node) => node.stop()));
			await database.drop();
			await redis.stop();
		}
	};
}

/** The same signed-in person (same session cookie and address) talking to another node. */
export function onNode(client: TestClient, node: TestServer): TestClient {
	const other = new TestClient(node, { ip: client.ip });
	for (const [name, value] of client.jar.cookies) other.jar.cookies.set(name, value);
	other.user = client.user;
	return other;
}

/**
 * A TCP load balancer on 127.0.0.1: each new connection goes to the next node in turn, skipping
 * nodes that refuse it (a killed node), without sticky sessions. Plain TCP, so HTTP and /ws alike.
 */
export class TcpBalancer {
	readonly #server: Server;
	readonly #nodes: () => TestServer[];
	#next = 0;
	readonly #open = new Set<Socket>();
	/** The node each open connection went to, by the client side's port. */
	readonly #routes = new Map<number, TestServer>();
	port = 0;

	private constructor(nodes: () => TestServer[]) {
		this.#nodes = nodes;
		this.#server = createServer((client) => this.#route(client));
	}

	static async start(nodes: () => TestServer[]): Promise<TcpBalancer> {
		const balancer = new TcpBalancer(nodes);
		await new Promise<void>((resolve) => balancer.#server.listen(0, '127.0.0.1', resolve));
		balancer.port = (balancer.#server.address() as { port: number }).port;
		return balancer;
	}

	/** What TestClient needs of a server: where to send requests, and the origin to send. */
	get server(): TestServer {
		return { url: `http://127.0.0.1:${this.port}`, origin: CLUSTER_ORIGIN, wsUrl: `ws://127.0.0.1:${this.port}/ws`, port: this.port } as TestServer;
	}

	/** The node a client's connection (identified by its local port) was sent to. */
	nodeOf(clientLocalPort: number): TestServer | undefined {
		return this.#routes.get(clientLocalPort);
	}

	async close() {
		for (const socket of this.#open) socket.destroy();
		await new Promise((resolve) => this.#server.close(resolve));
	}

	#route(client: Socket, attempt = 0) {
		const nodes = this.#nodes();
		if (attempt >= nodes.length) {
			client.destroy();
			return;
		}
		const node = nodes[this.#next++ % nodes.length]!;
		client.pause();
		const upstream = connect(node.port, '127.0.0.1');
		let connected = false;
		upstream.on('error', () => {
			// Refused (a dead node): try the next one. After connecting, 'close' below tears both down.
			if (!connected && !client.destroyed) this.#route(client, attempt + 1);
		});
		upstream.once('connect', () => {
			connected = true;
			this.#open.add(upstream);
			this.#open.add(client);
			const clientPort = client.remotePort!;
			this.#routes.set(clientPort, node);
			client.pipe(upstream);
			upstream.pipe(client);
			client.resume();
			const end = () => {
				if (this.#routes.get(clientPort) === node) this.#routes.delete(clientPort);
				this.#open.delete(upstream);
				this.#open.delete(client);
				upstream.destroy();
				client.destroy();
			};
			upstream.once('close', end);
			client.once('close', end);
			client.once('error', end);
		});
	}
}
