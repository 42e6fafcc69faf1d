/**
 * The all-in-one stack: one process, the gateway and the web UI listening, every other
 * service mounted in-process unless its `<SVC>_SERVICE_URL` says to call it over HTTP.
 * `bun run dev`, the container and the test harness all start Gaia through here.
 */

import type { Server } from 'bun';
import { createGateway, type Gateway } from '../services/gateway/app.ts';
import { createWebApp } from '../services/web/app.ts';
import type { Config, ServiceName } from '../src/config.ts';
import type { Handler } from '../src/http/client.ts';
import { announce } from '../src/lifecycle.ts';
import type { Logger } from '../src/log.ts';
import { listenMetrics, readMetricsConfig, trackBus, trackDb } from '../src/metrics.ts';
import {
  buildClients,
  drainServers,
  listen,
  type MountedService,
  makeLogger,
  openPlatform,
  type Platform,
} from '../src/platform.ts';
import { SERVICE_FACTORIES } from './registry.ts';

export interface StackOptions {
  config: Config;
  log?: Logger;
  /** Listen on these ports instead of the configured ones (0 = any free port). */
  gatewayPort?: number;
  webPort?: number;
}

export interface RunningStack extends Platform {
  gateway: Gateway;
  gatewayServer: Server<undefined>;
  gatewayUrl: string;
  webServer: Server<undefined>;
  webUrl: string;
  services: Partial<Record<ServiceName, MountedService>>;
  stop(): Promise<void>;
}

export async function startAllInOne(opts: StackOptions): Promise<RunningStack> {
  const { config } = opts;
  const log = opts.log ?? makeLogger(config, 'gaia');
  let ready = false;
  const platform = await openPlatform(config, 'all', log);
  const { db, bus } = platform;

  const services: Partial<Record<ServiceName, MountedService>> = {};
  const handlers: Partial<Record<ServiceName, Handler>> = {};
  // Services call each other through the same clients the gateway uses; they are built lazily so a
  // service created early can still reach one created later.
  const lazy: Partial<Record<ServiceName, Handler>> = {};
  for (const name of Object.keys(SERVICE_FACTORIES) as ServiceName[]) {
    if (!config.serviceUrls[name]) lazy[name] = (req) => handlers[name]!(req);
  }
  for (const [name, factory] of Object.entries(SERVICE_FACTORIES) as Array<
    [ServiceName, NonNullable<(typeof SERVICE_FACTORIES)[ServiceName]>]
  >) {
    if (config.serviceUrls[name]) continue;
    const svc = await factory({
      config,
      db,
      bus,
      log: makeLoggerLike(log, name),
      clients: buildClients(config, name, lazy, false),
    });
    services[name] = svc;
    handlers[name] = svc.handle;
  }

  const gateway = createGateway({
    config,
    db,
    bus,
    log: makeLoggerLike(log, 'gateway'),
    clients: buildClients(config, 'gateway', handlers, false),
    isReady: () => ready,
  });
  await gateway.auth.loadRevocations();

  const app = gateway.app;
  const fetch = gateway.fetch;
  const gatewayServer = listen('gateway', opts.gatewayPort ?? config.ports.gateway, config.host, (req) =>
    fetch(req),
  );
  // Elysia hands `server` to handlers from here; the gateway needs it for the client address.
  app.server = gatewayServer as never;
  // The web UI calls the gateway like any client, in-process here (counted as one trusted proxy).
  const web = createWebApp({
    config,
    log: makeLoggerLike(log, 'web'),
    gateway: { fetch: (req) => gateway.handleInternal(req) },
  });
  const webFetch = web.fetch;
  const webServer = listen('web', opts.webPort ?? config.ports.web, config.host, (req) => webFetch(req));
  web.server = webServer as never;

  // The gateway answers /metrics itself (token only); a separate port when GAIA_METRICS_PORT asks for one.
  const metricsServer = listenMetrics(readMetricsConfig(config));
  trackBus(bus);
  trackDb(db);

  const announcers = [
    announce({ bus, service: 'gateway', version: config.version, log }),
    announce({ bus, service: 'web', version: config.version, log }),
    ...Object.values(services).map((s) =>
      announce({ bus, service: s!.name, version: config.version, capabilities: s!.capabilities, log }),
    ),
  ];
  for (const a of announcers) a.ready();
  ready = true;
  const gatewayUrl = `http://127.0.0.1:${gatewayServer.port}`;
  const webUrl = `http://127.0.0.1:${webServer.port}`;
  log.info('gateway listening', { url: `http://${config.host}:${gatewayServer.port}` });
  log.info('web UI listening', { url: `http://${config.host}:${webServer.port}` });

  let stopped = false;
  return {
    ...platform,
    gateway,
    gatewayServer,
    gatewayUrl,
    webServer,
    webUrl,
    services,
    async stop() {
      if (stopped) return;
      stopped = true;
      ready = false;
      await drainServers([webServer, gatewayServer], () => gateway.openStreams());
      metricsServer?.stop();
      await Promise.all(announcers.map((a) => a.stopping()));
      await gateway.close();
      for (const s of Object.values(services)) await s?.close?.();
      await bus.drain();
      await db.close();
    },
  };
}

function makeLoggerLike(log: Logger, service: string): Logger {
  return log.child({ service });
}
