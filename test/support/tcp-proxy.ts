/**
 * A TCP proxy a test controls, to put a real server (PostgreSQL, NATS) behind a link the test can cut.
 *
 * `pause()` destroys every live connection and stops new ones from getting through, in one of two ways:
 * - `refuse`: the port stops listening, so connects fail at once (a server that is down);
 * - `blackhole`: connects are accepted and then never answered (a network partition, a hung server),
 *   which only timeouts can detect.
 * `resume()` lets connections through again on the same port, as a server coming back would.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export type PauseMode = 'refuse' | 'blackhole';

export interface TcpProxy {
  /** The port clients connect to; stays the same across pause and resume. */
  readonly port: number;
  /** `url` with its host and port replaced by the proxy's. */
  rewrite(url: string): string;
  pause(mode?: PauseMode): Promise<void>;
  resume(): Promise<void>;
  /** Connections currently passed through to the target. */
  liveConnections(): number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const live = new Set<Socket>();
  const held = new Set<Socket>();
  let mode: PauseMode | null = null;
  let server: Server;

  const onConnection = (client: Socket) => {
    if (mode === 'blackhole') {
      held.add(client);
      client.on('error', () => {});
      client.on('close', () => held.delete(client));
      return;
    }
    const upstream = connect(target.port, target.host);
    live.add(client);
    live.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      live.delete(client);
      live.delete(upstream);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const listen = (port: number) =>
    new Promise<Server>((resolve, reject) => {
      const s = createServer(onConnection);
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve(s));
    });

  server = await listen(0);
  const port = (server.address() as { port: number }).port;

  const closeServer = (s: Server) => new Promise<void>((resolve) => s.close(() => resolve()));

  return {
    port,
    rewrite(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    async pause(m = 'refuse') {
      if (mode) throw new Error('proxy already paused');
      mode = m;
      for (const s of live) s.destroy();
      live.clear();
      if (m === 'refuse') await closeServer(server);
    },
    async resume() {
      if (!mode) return;
      const was = mode;
      mode = null;
      for (const s of held) s.destroy();
      held.clear();
      if (was === 'refuse') server = await listen(port);
    },
    liveConnections: () => live.size / 2,
    async close() {
      for (const s of [...live, ...held]) s.destroy();
      if (mode !== 'refuse') await closeServer(server);
      mode = 'refuse';
    },
  };
}
