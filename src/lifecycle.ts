/**
 * Service lifecycle on the bus: `gaia.service.health` with `starting` at boot,
 * `healthy`/`degraded` every 30 s and `stopping` at shutdown; `gaia.service.ready` once a service
 * serves. Publishing is fire-and-forget: a bus outage never stops a service.
 */
import type { Bus } from './bus/types.ts';
import type { Logger } from './log.ts';

export interface Announcer {
  ready(): void;
  stopping(): Promise<void>;
}

export interface AnnounceOptions {
  bus: Bus;
  service: string;
  version: string;
  capabilities?: string[];
  log: Logger;
  /** Reports `degraded` instead of `healthy` when it returns false. */
  healthy?: () => boolean | Promise<boolean>;
  intervalMs?: number;
}

export function instanceId(service: string): string {
  return `${service}-${crypto.randomUUID().slice(0, 4)}`;
}

export function announce(opts: AnnounceOptions): Announcer {
  const id = instanceId(opts.service);
  const publish = (subject: string, payload: Record<string, unknown>) =>
    opts.bus
      .publish(subject, { ...payload, timestamp: new Date().toISOString() })
      .catch((err: unknown) => opts.log.warn('bus publish failed', { subject, error: String(err) }));
  const health = (status: string) =>
    publish('gaia.service.health', { service: opts.service, status, version: opts.version, instance_id: id });

  void health('starting');
  let timer: ReturnType<typeof setInterval> | undefined;
  return {
    ready() {
      void publish('gaia.service.ready', {
        service: opts.service,
        status: 'ready',
        version: opts.version,
        capabilities: opts.capabilities ?? [],
        instance_id: id,
      });
      timer = setInterval(async () => {
        const ok = opts.healthy ? await Promise.resolve(opts.healthy()).catch(() => false) : true;
        void health(ok ? 'healthy' : 'degraded');
      }, opts.intervalMs ?? 30_000);
      // The heartbeat must never keep a stopping process alive.
      timer.unref?.();
    },
    async stopping() {
      if (timer) clearInterval(timer);
      await health('stopping');
    },
  };
}
