/**
 * Split mode: one process runs one service (`bun services/<name>/index.ts`, or GAIA_SERVICE=<name> in the
 * container). Services reach each other over HTTP at `<SVC>_SERVICE_URL` (default localhost:<port>).
 */
import { createGateway } from '../services/gateway/app.ts';
import { createWebApp } from '../services/web/app.ts';
import { gatewayOverHttp } from '../services/web/gateway-client.ts';
import { type Config, loadConfig, type ServiceName } from '../src/config.ts';
import { announce } from '../src/lifecycle.ts';
import { listenMetrics, metricsOnApiPort, readMetricsConfig, trackBus, trackDb } from '../src/metrics.ts';
import { buildClients, drainServers, listen, makeLogger, onShutdown, openPlatform } from '../src/platform.ts';
import { SERVICE_FACTORIES } from './registry.ts';

const SERVICES = ['auth', 'asset', 'chat', 'kb'] as const;

export async function runService(
  name: string,
  config: Config = loadConfig(process.env, { split: true }),
): Promise<void> {
  if (name === 'gateway') return runGateway(config);
  if (name === 'web') return runWeb(config);
  if (!(SERVICES as readonly string[]).includes(name)) throw new Error(`Unknown service: ${name}`);
  const svcName = name as ServiceName;
  const factory = SERVICE_FACTORIES[svcName];
  if (!factory) throw new Error(`Service ${name} is not part of this build`);
  const log = makeLogger(config, name);
  const platform = await openPlatform(config, name, log);
  const svc = await factory({
    ...platform,
    clients: buildClients(config, name, {}, true),
  });
  const metrics = readMetricsConfig(config);
  const server = listen(name, config.ports[svcName], config.host, (req) =>
    new URL(req.url).pathname === '/metrics' ? metricsOnApiPort(req, metrics) : svc.handle(req),
  );
  const metricsServer = listenMetrics(metrics);
  trackBus(platform.bus);
  trackDb(platform.db);
  const a = announce({
    bus: platform.bus,
    service: name,
    version: config.version,
    capabilities: svc.capabilities,
    log,
  });
  a.ready();
  log.info(`${name} listening`, { port: server.port });
  onShutdown(log, async () => {
    await drainServers([server], () => 0);
    metricsServer?.stop();
    await a.stopping();
    await svc.close?.();
    await platform.bus.drain();
    await platform.db.close();
  });
}

async function runGateway(config: Config): Promise<void> {
  const log = makeLogger(config, 'gateway');
  let ready = false;
  const platform = await openPlatform(config, 'gateway', log);
  const gateway = createGateway({
    ...platform,
    clients: buildClients(config, 'gateway', {}, true),
    isReady: () => ready,
  });
  await gateway.auth.loadRevocations();
  const fetch = gateway.fetch;
  const server = listen('gateway', config.ports.gateway, config.host, (req) => fetch(req));
  gateway.app.server = server as never;
  const metricsServer = listenMetrics(readMetricsConfig(config));
  trackBus(platform.bus);
  trackDb(platform.db);
  const a = announce({ bus: platform.bus, service: 'gateway', version: config.version, log });
  a.ready();
  ready = true;
  log.info('gateway listening', { port: server.port });
  onShutdown(log, async () => {
    ready = false;
    await drainServers([server], () => gateway.openStreams());
    metricsServer?.stop();
    await a.stopping();
    await gateway.close();
    await platform.bus.drain();
    await platform.db.close();
  });
}

/** The web UI alone: it reaches the gateway over HTTP at GATEWAY_URL like any client. */
async function runWeb(config: Config): Promise<void> {
  const log = makeLogger(config, 'web');
  const gatewayUrl = config.gatewayUrl ?? `http://localhost:${config.ports.gateway}`;
  const app = createWebApp({ config, log, gateway: gatewayOverHttp(gatewayUrl) });
  const fetch = app.fetch;
  const metrics = readMetricsConfig(config);
  const server = listen('web', config.ports.web, config.host, (req) =>
    new URL(req.url).pathname === '/metrics' ? metricsOnApiPort(req, metrics) : fetch(req),
  );
  const metricsServer = listenMetrics(metrics);
  // Elysia hands `server` to handlers from here; the web UI needs it for the browser's address.
  app.server = server as never;
  log.info('web listening', { port: server.port, gateway: gatewayUrl });
  onShutdown(log, async () => {
    await drainServers([server], () => 0);
    metricsServer?.stop();
  });
}
