/**
 * The model registry: which models exist, which provider serves each, their context and
 * output limits, capabilities and prices (USD per million tokens). Only models of configured providers are
 * visible. `GAIA_MODELS_FILE` adds or overrides entries; an OpenAI-compatible server's own model list
 * (`OPENAI_MODELS`, else its `GET /models`, cached 5 minutes) replaces the built-in OpenAI list.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../../../src/config.ts';

export type ProviderId = 'claude' | 'openai' | 'local';
/** Names v0.2 clients may send; the last two are accepted but never configured. */
export const KNOWN_PROVIDERS = ['claude', 'openai', 'local', 'gemini', 'mistral'] as const;
export type KnownProvider = (typeof KNOWN_PROVIDERS)[number];

export const PROVIDER_ORDER: ProviderId[] = ['claude', 'openai', 'local'];

export const PROVIDER_NAMES: Record<ProviderId, string> = {
  claude: 'Anthropic Claude',
  openai: 'OpenAI',
  local: 'Gaia Local (offline)',
};

export const OWNED_BY: Record<ProviderId, string> = { claude: 'anthropic', openai: 'openai', local: 'gaia' };

export const FULL_CAPABILITIES = ['chat', 'streaming', 'tool_calling', 'vision'];

export interface ModelInfo {
  id: string;
  name: string;
  provider: ProviderId;
  contextWindow: number;
  maxTokens: number;
  /** USD per million input / output tokens. */
  inputPrice: number;
  outputPrice: number;
  capabilities: string[];
  description: string;
  qualityScore: number | null;
  speedScore: number | null;
  /** Unix seconds, for OpenAI's `created`. */
  created: number;
}

export const BUILTIN_MODELS: ModelInfo[] = [
  {
    id: 'claude-haiku-4-5',
    name: 'Claude Haiku 4.5',
    provider: 'claude',
    contextWindow: 200_000,
    maxTokens: 64_000,
    inputPrice: 1,
    outputPrice: 5,
    capabilities: FULL_CAPABILITIES,
    description: 'Fast, low-cost Claude model',
    qualityScore: null,
    speedScore: null,
    created: 1760486400,
  },
  {
    id: 'claude-sonnet-4-5',
    name: 'Claude Sonnet 4.5',
    provider: 'claude',
    contextWindow: 200_000,
    maxTokens: 64_000,
    inputPrice: 3,
    outputPrice: 15,
    capabilities: FULL_CAPABILITIES,
    description: 'Balanced Claude model for complex work',
    qualityScore: null,
    speedScore: null,
    created: 1759104000,
  },
  {
    id: 'gpt-4o-mini',
    name: 'GPT-4o mini',
    provider: 'openai',
    contextWindow: 128_000,
    maxTokens: 16_384,
    inputPrice: 0.15,
    outputPrice: 0.6,
    capabilities: FULL_CAPABILITIES,
    description: 'Small, fast, low-cost OpenAI model',
    qualityScore: null,
    speedScore: null,
    created: 1721172741,
  },
  {
    id: 'gpt-4o',
    name: 'GPT-4o',
    provider: 'openai',
    contextWindow: 128_000,
    maxTokens: 16_384,
    inputPrice: 2.5,
    outputPrice: 10,
    capabilities: FULL_CAPABILITIES,
    description: 'OpenAI multimodal flagship model',
    qualityScore: null,
    speedScore: null,
    created: 1715367049,
  },
  {
    id: 'gpt-4.1-mini',
    name: 'GPT-4.1 mini',
    provider: 'openai',
    contextWindow: 1_047_576,
    maxTokens: 32_768,
    inputPrice: 0.4,
    outputPrice: 1.6,
    capabilities: FULL_CAPABILITIES,
    description: 'Long-context, low-cost OpenAI model',
    qualityScore: null,
    speedScore: null,
    created: 1744318173,
  },
  {
    id: 'gpt-4.1',
    name: 'GPT-4.1',
    provider: 'openai',
    contextWindow: 1_047_576,
    maxTokens: 32_768,
    inputPrice: 2,
    outputPrice: 8,
    capabilities: FULL_CAPABILITIES,
    description: 'Long-context OpenAI model',
    qualityScore: null,
    speedScore: null,
    created: 1744316542,
  },
  {
    id: 'gaia-local',
    name: 'Gaia Local (offline)',
    provider: 'local',
    contextWindow: 32_768,
    maxTokens: 4096,
    inputPrice: 0,
    outputPrice: 0,
    capabilities: ['chat', 'streaming'],
    description: 'Deterministic offline responder; not a language model',
    qualityScore: null,
    speedScore: null,
    created: 1764547200,
  },
];

/** Retired ids old clients still send. */
export const BUILTIN_ALIASES: Record<string, string> = {
  'claude-3-haiku-20240307': 'claude-haiku-4-5',
  'claude-3-5-haiku-20241022': 'claude-haiku-4-5',
  'claude-3-sonnet-20240229': 'claude-sonnet-4-5',
  'claude-3-5-sonnet-20241022': 'claude-sonnet-4-5',
};

export const DEFAULT_OPENAI_BASE = 'https://api.openai.com/v1';
const DISCOVERY_TTL_MS = 5 * 60_000;

/** Which providers this configuration enables, in selection order. */
export function configuredProviders(chat: Config['chat']): ProviderId[] {
  const out: ProviderId[] = [];
  if (chat.anthropicApiKey) out.push('claude');
  const openai = !!chat.openaiApiKey || chat.openaiBaseUrl !== DEFAULT_OPENAI_BASE;
  if (openai) out.push('openai');
  if (out.length === 0 || chat.localLlmEnabled) out.push('local');
  return out;
}

interface FileEntry {
  id?: unknown;
  name?: unknown;
  provider?: unknown;
  context_window?: unknown;
  max_tokens?: unknown;
  input_price?: unknown;
  output_price?: unknown;
  pricing?: { input_tokens_per_million?: unknown; output_tokens_per_million?: unknown };
  capabilities?: unknown;
  description?: unknown;
  quality_score?: unknown;
  speed_score?: unknown;
  aliases?: unknown;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Reads GAIA_MODELS_FILE: `[{id, provider, …}]` or `{"models": [...]}`. Entries with a known id override
 * the given fields; new ids need a provider. A broken file stops the start, naming the variable.
 */
export function loadModelsFile(path: string): {
  models: Partial<ModelInfo>[];
  aliases: Record<string, string>;
} {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`GAIA_MODELS_FILE could not be read as JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(raw) ? raw : (raw as { models?: unknown })?.models;
  if (!Array.isArray(list))
    throw new Error('GAIA_MODELS_FILE must hold an array of models or {"models": [...]}');
  const models: Partial<ModelInfo>[] = [];
  const aliases: Record<string, string> = {};
  for (const e of list as FileEntry[]) {
    if (typeof e?.id !== 'string' || e.id === '')
      throw new Error('GAIA_MODELS_FILE: every model needs an "id"');
    const m: Partial<ModelInfo> = { id: e.id };
    if (typeof e.name === 'string') m.name = e.name;
    if (e.provider === 'claude' || e.provider === 'openai' || e.provider === 'local') m.provider = e.provider;
    if (num(e.context_window)) m.contextWindow = num(e.context_window);
    if (num(e.max_tokens)) m.maxTokens = num(e.max_tokens);
    const inPrice = num(e.input_price) ?? num(e.pricing?.input_tokens_per_million);
    const outPrice = num(e.output_price) ?? num(e.pricing?.output_tokens_per_million);
    if (inPrice !== undefined) m.inputPrice = inPrice;
    if (outPrice !== undefined) m.outputPrice = outPrice;
    if (Array.isArray(e.capabilities)) m.capabilities = e.capabilities.filter((c) => typeof c === 'string');
    if (typeof e.description === 'string') m.description = e.description;
    if (e.quality_score !== undefined) m.qualityScore = num(e.quality_score) ?? null;
    if (e.speed_score !== undefined) m.speedScore = num(e.speed_score) ?? null;
    if (Array.isArray(e.aliases)) for (const a of e.aliases) if (typeof a === 'string') aliases[a] = e.id;
    models.push(m);
  }
  return { models, aliases };
}

function fromDiscovered(id: string, known: Map<string, ModelInfo>): ModelInfo {
  const k = known.get(id);
  if (k) return { ...k, provider: 'openai' };
  // A model of an OpenAI-compatible server we know nothing about: free, modest limits, plain chat.
  return {
    id,
    name: id,
    provider: 'openai',
    contextWindow: 32_768,
    maxTokens: 4096,
    inputPrice: 0,
    outputPrice: 0,
    capabilities: ['chat', 'streaming'],
    description: 'Model served by the configured OpenAI-compatible server',
    qualityScore: null,
    speedScore: null,
    created: 0,
  };
}

export interface RegistryOptions {
  /** Lists the OpenAI-compatible server's models (its `GET /models`). */
  discoverOpenAI?: (signal: AbortSignal) => Promise<string[]>;
  warn?: (msg: string, fields?: Record<string, unknown>) => void;
}

export class ModelRegistry {
  readonly providers: ProviderId[];
  private readonly all = new Map<string, ModelInfo>();
  private readonly aliases = new Map<string, string>(Object.entries(BUILTIN_ALIASES));
  private readonly openaiCustom: boolean;
  private discovered: { at: number; models: ModelInfo[] } | null = null;
  private discovering: Promise<ModelInfo[]> | null = null;

  constructor(
    private readonly chat: Config['chat'],
    private readonly opts: RegistryOptions = {},
  ) {
    this.providers = configuredProviders(chat);
    for (const m of BUILTIN_MODELS) this.all.set(m.id, m);
    if (chat.modelsFile) {
      const file = loadModelsFile(chat.modelsFile);
      for (const m of file.models) {
        const base = this.all.get(m.id!);
        if (base) this.all.set(m.id!, { ...base, ...m } as ModelInfo);
        else if (m.provider) this.all.set(m.id!, { ...fromDiscovered(m.id!, new Map()), ...m } as ModelInfo);
        else throw new Error(`GAIA_MODELS_FILE: new model ${m.id} needs a "provider"`);
      }
      for (const [a, id] of Object.entries(file.aliases)) this.aliases.set(a, id);
    }
    this.openaiCustom = chat.openaiBaseUrl !== DEFAULT_OPENAI_BASE;
  }

  isConfigured(p: string): p is ProviderId {
    return (this.providers as string[]).includes(p);
  }

  /** Models of one configured provider, in registry order. */
  async modelsOf(p: ProviderId): Promise<ModelInfo[]> {
    if (!this.isConfigured(p)) return [];
    if (p === 'openai' && this.openaiCustom) return this.openaiModels();
    return [...this.all.values()].filter((m) => m.provider === p);
  }

  /** Every available model, providers in selection order. */
  async list(): Promise<ModelInfo[]> {
    const out: ModelInfo[] = [];
    for (const p of this.providers) out.push(...(await this.modelsOf(p)));
    return out;
  }

  /** Resolves an id or alias among available models. */
  async find(id: string): Promise<ModelInfo | undefined> {
    const target = this.aliases.get(id) ?? id;
    return (await this.list()).find((m) => m.id === target);
  }

  /** Resolves an id or alias in the whole registry, configured or not (to tell "unknown" from "unconfigured"). */
  known(id: string): ModelInfo | undefined {
    return this.all.get(this.aliases.get(id) ?? id);
  }

  async defaultModel(p: ProviderId): Promise<ModelInfo | undefined> {
    const models = await this.modelsOf(p);
    const wanted =
      p === 'claude'
        ? this.chat.claudeDefaultModel
        : p === 'openai'
          ? this.chat.openaiDefaultModel
          : 'gaia-local';
    const target = this.aliases.get(wanted) ?? wanted;
    return models.find((m) => m.id === target) ?? models[0];
  }

  private async openaiModels(): Promise<ModelInfo[]> {
    if (this.chat.openaiModels.length)
      return this.chat.openaiModels.map((id) => fromDiscovered(id, this.all));
    if (this.discovered && Date.now() - this.discovered.at < DISCOVERY_TTL_MS) return this.discovered.models;
    if (!this.discovering) {
      this.discovering = (async () => {
        let ids: string[] = [];
        try {
          ids = this.opts.discoverOpenAI ? await this.opts.discoverOpenAI(AbortSignal.timeout(5000)) : [];
        } catch (err) {
          this.opts.warn?.('could not list the OpenAI-compatible server models', {
            error: (err as Error).message,
          });
        }
        // Without a list, the configured default is still offered so the provider stays usable.
        if (ids.length === 0) {
          const fallback = [fromDiscovered(this.chat.openaiDefaultModel, this.all)];
          // A failed discovery is retried on the next request, not cached for 5 minutes.
          this.discovered = null;
          return fallback;
        }
        const models = ids.map((id) => fromDiscovered(id, this.all));
        this.discovered = { at: Date.now(), models };
        return models;
      })().finally(() => {
        this.discovering = null;
      });
    }
    return this.discovering;
  }
}

/** A call's `cost_usd`, rounded to 8 decimals. */
export function costUsd(
  m: Pick<ModelInfo, 'inputPrice' | 'outputPrice'>,
  input: number,
  output: number,
): number {
  return Math.round(((input * m.inputPrice + output * m.outputPrice) / 1_000_000) * 1e8) / 1e8;
}
