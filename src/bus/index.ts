/** The message bus: pick a transport with createBus, program against Bus. */
import { MemoryBus } from './memory.ts';
import type { Bus, BusLogger } from './types.ts';

export { DEFAULT_REQUEST_TIMEOUT_MS, MemoryBus, type MemoryBusOptions } from './memory.ts';
export type { NatsBusOptions } from './nats.ts';
export {
  assertPublishSubject,
  assertSubscribeSubject,
  BusError,
  type BusErrorCode,
  isValidSubject,
  MAX_PAYLOAD_BYTES,
  subjectMatcher,
  subjectMatches,
} from './subject.ts';
export type {
  Bus,
  BusHandler,
  BusHealth,
  BusLogger,
  BusMessage,
  BusPayload,
  BusResponder,
  Subscription,
} from './types.ts';

export interface CreateBusOptions {
  /** NATS_URL: one URL or a comma-separated list. Unset means the in-process bus. */
  natsUrl?: string;
  /** Takes precedence over natsUrl when non-empty (config.nats.servers). */
  servers?: string[];
  /** `gaia-<service>-<instance>`. */
  name: string;
  user?: string;
  password?: string;
  token?: string;
  credsFile?: string;
  logger?: BusLogger;
}

export async function createBus(opts: CreateBusOptions): Promise<Bus> {
  const servers = opts.servers?.length
    ? opts.servers
    : (opts.natsUrl ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
  if (servers.length === 0) return new MemoryBus(opts.logger ? { logger: opts.logger } : {});
  // The NATS client is loaded only when there is a NATS to talk to; the in-process bus does without it.
  const { NatsBus } = await import('./nats.ts');
  return NatsBus.create({
    servers,
    name: opts.name,
    ...(opts.user !== undefined ? { user: opts.user } : {}),
    ...(opts.password !== undefined ? { pass: opts.password } : {}),
    ...(opts.token !== undefined ? { token: opts.token } : {}),
    ...(opts.credsFile !== undefined ? { credsFile: opts.credsFile } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
}
