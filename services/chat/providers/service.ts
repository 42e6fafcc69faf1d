/**
 * The configured providers of one chat instance and what is known about their health: the outcome of
 * the most recent call or active check. Health is per instance, like the session history; it is advisory.
 */
import type { Config } from '../../../src/config.ts';
import type { Logger } from '../../../src/log.ts';
import { ModelRegistry, type ProviderId } from '../models/registry.ts';
import { type ProviderError, toProviderError } from './errors.ts';
import { createLocalProvider } from './local.ts';
import { createOpenAIProvider } from './openai.ts';
import type { Provider } from './types.ts';

export interface ProviderHealth {
  status: 'healthy' | 'unhealthy' | 'unknown';
  checkedAt: Date | null;
  responseTimeMs: number | null;
  error: string | null;
}

/**
 * The Anthropic SDK is loaded only when Claude models are configured: a process without them would carry
 * its ~10 MB for nothing. (Bun's `require` loads the module synchronously, and `bun build` bundles it.)
 */
const loadAnthropic = () => require('./anthropic.ts') as typeof import('./anthropic.ts');

export class ProviderSet {
  readonly registry: ModelRegistry;
  private readonly instances = new Map<ProviderId, Provider>();
  private readonly healthOf = new Map<ProviderId, ProviderHealth>();

  constructor(config: Config, log: Logger) {
    const chat = config.chat;
    const openai = createOpenAIProvider(chat);
    this.registry = new ModelRegistry(chat, {
      discoverOpenAI: (signal) => openai.listModels(signal),
      warn: (msg, fields) => log.warn(msg, fields),
    });
    for (const p of this.registry.providers) {
      this.instances.set(
        p,
        p === 'claude'
          ? loadAnthropic().createAnthropicProvider(chat)
          : p === 'openai'
            ? openai
            : createLocalProvider(chat),
      );
      this.healthOf.set(p, { status: 'unknown', checkedAt: null, responseTimeMs: null, error: null });
    }
  }

  get(id: ProviderId): Provider {
    const p = this.instances.get(id);
    if (!p) throw new Error(`provider ${id} is not configured`);
    return p;
  }

  health(id: ProviderId): ProviderHealth {
    if (id === 'local')
      return {
        status: 'healthy',
        checkedAt: this.healthOf.get(id)?.checkedAt ?? null,
        responseTimeMs: 0,
        error: null,
      };
    return this.healthOf.get(id) ?? { status: 'unknown', checkedAt: null, responseTimeMs: null, error: null };
  }

  /** Records the outcome of a real call; only provider-side failures make a provider unhealthy. */
  record(id: ProviderId, ok: boolean, responseTimeMs: number, error?: ProviderError): void {
    if (!ok && error?.rejected) return;
    this.healthOf.set(id, {
      status: ok ? 'healthy' : 'unhealthy',
      checkedAt: new Date(),
      responseTimeMs,
      error: ok ? null : (error?.clientMessage ?? 'The language model provider failed.'),
    });
  }

  /** An active check through the provider's model listing: no tokens spent. */
  async check(id: ProviderId): Promise<ProviderHealth> {
    const started = performance.now();
    try {
      await this.get(id).check(AbortSignal.timeout(10_000));
      this.record(id, true, Math.round(performance.now() - started));
    } catch (err) {
      this.record(id, false, Math.round(performance.now() - started), toProviderError(err));
    }
    return this.health(id);
  }
}
