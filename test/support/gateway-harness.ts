/**
 * A real gateway (real database, real bus, real HTTP listener) in front of an echo service that reports
 * exactly what reached it: the verified identity, the forwarded headers and the body bytes. Lets the
 * gateway's contract be tested on its own, independent of what the real services answer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'bun';
import { type Db, openDb } from '../../db/index.ts';
import { createGateway, type Gateway } from '../../services/gateway/app.ts';
import { createBus } from '../../src/bus/index.ts';
import type { Bus } from '../../src/bus/types.ts';
import { type Config, loadConfig, type ServiceName } from '../../src/config.ts';
import { httpClient, inProcessClient, type ServiceClients } from '../../src/http/client.ts';
import { identityOfRequest } from '../../src/http/identity.ts';
import { sseResponse } from '../../src/http/sse.ts';
import { createLogger } from '../../src/log.ts';
import { TEST_SUPABASE_JWT_SECRET } from './stack.ts';

export interface EchoReport {
  service: string;
  method: string;
  path: string;
  identity: Record<string, unknown> | null;
  headers: Record<string, string>;
  body: string;
}

export interface EchoControl {
  /** Number of SSE streams whose client went away (the upstream saw the abort). */
  aborted: number;
  /** Releases a held stream event (see `/hold` streams). */
  release: () => void;
  seen: EchoReport[];
}

export interface GatewayHarness {
  url: string;
  config: Config;
  db: Db;
  bus: Bus;
  gateway: Gateway;
  server: Server<undefined>;
  echo: EchoControl;
  logs: string[];
  stop(): Promise<void>;
}

export interface HarnessOptions {
  databaseUrl?: string;
  natsUrl?: string;
  env?: Record<string, string>;
  /** Services that have no client at all (the gateway must answer 503 for them). */
  missing?: ServiceName[];
  streamSilenceMs?: number;
  /** Services reached over HTTP (split mode, signed identity) instead of in-process. */
  remote?: ServiceName[];
}

function echoHandler(name: ServiceName, secret: string, control: EchoControl) {
  return async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    // What a service sees: the identity handed over in-process (the harness mounts its echo in-process).
    const identity = identityOfRequest(secret, request);
    const headers: Record<string, string> = {};
    request.headers.forEach((v, k) => {
      headers[k] = v;
    });
    const body = request.body ? await request.text() : '';
    const report: EchoReport = {
      service: name,
      method: request.method,
      path: url.pathname + url.search,
      identity: identity as Record<string, unknown> | null,
      headers,
      body,
    };
    control.seen.push(report);
    if (url.searchParams.get('sse') === '1') {
      const hold = url.searchParams.get('hold') === '1';
      let releaseHeld: () => void = () => {};
      const held = new Promise<void>((r) => {
        releaseHeld = r;
      });
      control.release = releaseHeld;
      return sseResponse({ signal: request.signal }, async (w) => {
        w.signal.addEventListener('abort', () => {
          control.aborted++;
        });
        // `drip=N`: N chunks 60 ms apart, each shaped like a chat chunk with the stream's id and model.
        const drip = Number(url.searchParams.get('drip') ?? 0);
        for (let i = 0; i < drip && !w.closed; i++) {
          if (i > 0) await Bun.sleep(60);
          await w.data({
            id: 'chat-drip-1',
            object: 'chat.completion.chunk',
            created: 1700000000,
            model: 'drip-model',
            choices: [{ index: 0, delta: { content: `d${i} ` }, finish_reason: null }],
          });
        }
        await w.data({ type: 'content', content: 'first' });
        if (hold) await Promise.race([held, new Promise((r) => w.signal.addEventListener('abort', r))]);
        if (w.closed) return;
        await w.data({ type: 'content', content: 'second' });
        await w.data('[DONE]');
      });
    }
    const delay = Number(url.searchParams.get('delay') ?? 0);
    if (delay) await Bun.sleep(delay);
    const status = Number(url.searchParams.get('status') ?? 200);
    if (url.searchParams.get('raw') === '1')
      return new Response('Traceback (most recent call last): secret stuff', { status });
    if (url.searchParams.get('big') === '1')
      return Response.json(
        { ...report, padding: 'x'.repeat(4096) },
        { status, headers: { 'set-cookie': 'a=b', 'x-gaia-internal': '1', server: 'echo' } },
      );
    return Response.json(report, {
      status,
      headers: { 'set-cookie': 'a=b', 'x-gaia-internal': '1', server: 'echo' },
    });
  };
}

export async function startGatewayHarness(opts: HarnessOptions = {}): Promise<GatewayHarness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gaia-gw-'));
  const logs: string[] = [];
  const config = loadConfig({
    GAIA_ENV: 'test',
    GAIA_DATA_DIR: dataDir,
    SUPABASE_JWT_SECRET: TEST_SUPABASE_JWT_SECRET,
    HOST: '127.0.0.1',
    ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {}),
    ...(opts.natsUrl ? { NATS_URL: opts.natsUrl } : {}),
    ...opts.env,
  });
  const log = createLogger({ service: 'gateway', level: 'debug', json: true, sink: (l) => logs.push(l) });
  const db = await openDb({
    url: config.database.url,
    kind: config.database.kind,
    sqlitePath: config.database.sqlitePath,
    poolMax: 5,
    autoMigrate: true,
    seedDev: true,
    isProduction: false,
  });
  const bus = await createBus({ natsUrl: config.nats.url, name: 'gaia-test-gateway' });
  const echo: EchoControl = { aborted: 0, release: () => {}, seen: [] };
  const clients: ServiceClients = {};
  const upstreams: Array<{ stop(force?: boolean): unknown }> = [];
  for (const name of ['auth', 'asset', 'chat', 'kb'] as const) {
    if (opts.missing?.includes(name)) continue;
    if (opts.remote?.includes(name)) {
      const handler = echoHandler(name, config.internalSecret, echo);
      const up = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: (req) => handler(req) });
      upstreams.push(up);
      clients[name] = httpClient(
        { name, internalSecret: config.internalSecret, issuer: 'gaia-gateway', defaultTimeoutMs: 5000 },
        `http://127.0.0.1:${up.port}`,
      );
      continue;
    }
    clients[name] = inProcessClient(
      { name, internalSecret: config.internalSecret, issuer: 'gaia-gateway', defaultTimeoutMs: 5000 },
      echoHandler(name, config.internalSecret, echo),
    );
  }
  const gateway = createGateway({
    config,
    db,
    bus,
    log,
    clients,
    isReady: () => true,
    streamSilenceMs: opts.streamSilenceMs,
  });
  await gateway.auth.loadRevocations();
  const fetch = gateway.fetch;
  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', idleTimeout: 120, fetch: (req) => fetch(req) });
  gateway.app.server = server as never;
  return {
    url: `http://127.0.0.1:${server.port}`,
    config,
    db,
    bus,
    gateway,
    server,
    echo,
    logs,
    async stop() {
      server.stop(true);
      for (const up of upstreams) up.stop(true);
      await gateway.close();
      await bus.drain();
      await db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
