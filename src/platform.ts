/**
 * What every Gaia process does the same way: open the database and the bus, build service clients
 * (in-process or HTTP), listen, and shut down gracefully on SIGTERM/SIGINT. Launchers differ only in
 * which services they mount.
 */
import type { Server } from 'bun';
import { type Db, openDb } from '../db/index.ts';
import { createBus } from './bus/index.ts';
import type { Bus } from './bus/types.ts';
import { type Config, Reader, type ServiceName } from './config.ts';
import {
  type Handler,
  httpClient,
  inProcessClient,
  type ServiceClient,
  type ServiceClients,
} from './http/client.ts';
import type { ServiceDeps } from './http/service.ts';
import { createLogger, type Logger, redactText } from './log.ts';

export interface Platform {
  config: Config;
  log: Logger;
  db: Db;
  bus: Bus;
}

export function makeLogger(config: Config, service: string): Logger {
  return createLogger({
    service,
    level: config.logLevel,
    json: config.logFormat === 'json',
    // Colour codes only on a terminal, and never when NO_COLOR is set (https://no-color.org): in a file or a
    // log collector they are noise.
    color: !config.source.NO_COLOR && process.stdout.isTTY === true,
  });
}

export async function openPlatform(
  config: Config,
  service: string,
  log = makeLogger(config, service),
): Promise<Platform> {
  const db = await openDb({
    url: config.database.url,
    kind: config.database.kind,
    sqlitePath: config.database.sqlitePath,
    poolMax: config.database.poolMax,
    autoMigrate: config.database.autoMigrate,
    seedDev: config.seedDev,
    isProduction: config.isProduction,
    log: log.child({ component: 'db' }),
    // Bounds every statement, including the wait for a connection, so a database outage answers 503
    // within this time instead of holding requests until the server returns.
    queryTimeoutMs: new Reader(config.source).int('DATABASE_QUERY_TIMEOUT_MS', 5000, 100, 600_000),
  });
  const bus = await createBus({
    natsUrl: config.nats.url,
    servers: config.nats.servers,
    name: `gaia-${service}-${crypto.randomUUID().slice(0, 8)}`,
    user: config.nats.user,
    password: config.nats.password,
    token: config.nats.token,
    credsFile: config.nats.credsFile,
    logger: log.child({ component: 'bus' }),
  });
  return { config, log, db, bus };
}

/** A service app as the launcher sees it. */
export interface MountedService {
  name: ServiceName;
  handle: Handler;
  /** Route templates (`/api/v1/conversations/:id`), so metrics label requests by route, not raw path. */
  routes?: Array<{ method: string; path: string }>;
  capabilities: string[];
  close?(): Promise<void>;
}

export type ServiceFactory = (deps: ServiceDeps) => MountedService | Promise<MountedService>;

export function issuerOf(service: string): string {
  return `gaia-${service}`;
}

/**
 * Clients for every service: in-process for the mounted ones, HTTP for the rest when a URL is known.
 * A service neither mounted nor reachable has no client, and the gateway answers 503 for it.
 */
export function buildClients(
  config: Config,
  caller: string,
  mounted: Partial<Record<ServiceName, Handler>>,
  defaultUrls: boolean,
): ServiceClients {
  const clients: ServiceClients = {};
  for (const name of ['auth', 'asset', 'chat', 'kb'] as const) {
    const opts = {
      name,
      internalSecret: config.internalSecret,
      issuer: issuerOf(caller),
      defaultTimeoutMs: config.gateway.requestTimeoutMs,
    };
    const url =
      config.serviceUrls[name] ?? (defaultUrls ? `http://localhost:${config.ports[name]}` : undefined);
    const handler = mounted[name];
    let client: ServiceClient | undefined;
    if (config.serviceUrls[name] || !handler) client = url ? httpClient(opts, url) : undefined;
    else client = inProcessClient(opts, handler);
    if (client) clients[name] = client;
  }
  return clients;
}

/**
 * Requests whose raw target had a `.` or `..` segment. Bun resolves those segments before `request.url`
 * exists, so a handler cannot see them; its router, though, matches the raw target, so routes spelled
 * with dot segments catch them first and mark the request (the gateway answers 400 `Invalid path`).
 */
const dotSegmentRequests = new WeakSet<Request>();

/** Whether the client sent this request with a literal or percent-encoded `.`/`..` path segment. */
export function hadDotSegments(request: Request): boolean {
  return dotSegmentRequests.has(request);
}

// Paths deeper than this are not inspected; no Gaia route is half as deep.
const DOT_SEGMENT_DEPTH = 12;
const DOT_SPELLINGS = [
  '.',
  '%2e',
  '%2E',
  '..',
  '.%2e',
  '%2e.',
  '%2e%2e',
  '.%2E',
  '%2E.',
  '%2E%2E',
  '%2e%2E',
  '%2E%2e',
];

function dotSegmentRoutes(
  fetch: (req: Request, server: Server<undefined>) => Response | Promise<Response>,
): Record<string, (req: Request, server: Server<undefined>) => Response | Promise<Response>> {
  const mark = (req: Request, server: Server<undefined>) => {
    dotSegmentRequests.add(req);
    return fetch(req, server);
  };
  const routes: Record<string, typeof mark> = {};
  for (let depth = 0; depth < DOT_SEGMENT_DEPTH; depth++) {
    let prefix = '';
    for (let i = 0; i < depth; i++) prefix += `/:s${i}`;
    for (const dot of DOT_SPELLINGS) {
      routes[`${prefix}/${dot}`] = mark;
      routes[`${prefix}/${dot}/*`] = mark;
    }
  }
  return routes;
}

export function listen(
  name: string,
  port: number,
  hostname: string,
  fetch: (req: Request, server: Server<undefined>) => Response | Promise<Response>,
): Server<undefined> {
  return Bun.serve({
    port,
    hostname,
    routes: dotSegmentRoutes(fetch),
    // Bun's 10 s default would cut long requests; streams turn it off per request.
    idleTimeout: 120,
    // The gateway enforces per-route limits itself; this only caps what Bun will accept at all.
    maxRequestBodySize: 64 * 1024 * 1024,
    fetch,
    error(err) {
      console.error(`${name}: unhandled server error`, redactText(err.message));
      return new Response(JSON.stringify({ detail: 'Internal server error' }), {
        status: 500,
        headers: { 'content-type': 'application/json' },
      });
    },
  });
}

/** Runs `stop` once on SIGTERM or SIGINT, then exits. */
export function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    try {
      await stop();
      process.exit(0);
    } catch (err) {
      log.error('shutdown failed', { error: String(err) });
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void handler('SIGTERM'));
  process.on('SIGINT', () => void handler('SIGINT'));
}

/** Stops accepting, lets in-flight requests and open streams finish (bounded), then closes. */
export async function drainServers(
  servers: Array<Server<undefined> | undefined>,
  openStreams: () => number,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const stops = servers.filter(Boolean).map((s) => s!.stop(false));
  while (openStreams() > 0 && Date.now() < deadline) await Bun.sleep(50);
  await Promise.race([Promise.all(stops), Bun.sleep(Math.max(0, deadline - Date.now()))]);
  for (const s of servers) s?.stop(true);
}
