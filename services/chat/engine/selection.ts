/**
 * Model selection (including the v0.2 request's options) and fallback targets.
 * Families differ only in what an unknown model or provider means: an error (v0.2, legacy), a warning
 * (`/api/v1/chat`, which the Python platform let ignore both), or nothing (`/api/v0.3/chat`).
 */
import type { Config } from '../../../src/config.ts';
import { HttpError } from '../../../src/http/errors.ts';
import {
  KNOWN_PROVIDERS,
  type ModelInfo,
  type ModelRegistry,
  PROVIDER_ORDER,
  type ProviderId,
} from '../models/registry.ts';

export interface SelectionRequest {
  model?: string | null;
  provider?: string | null;
  /** `error`: 400 for unknown/unavailable (v0.2, legacy); `warn`: ignore and report (unified). */
  strictness: 'error' | 'warn';
  forceProvider?: boolean;
  autoSelect?: boolean;
  priority?: string | null;
  requiredCapabilities?: string[] | null;
  personaPreferred?: string | null;
}

export interface Selection {
  model: ModelInfo;
  reasoning: string;
  warnings: string[];
}

const CHEAP_PRIORITIES = new Set(['speed', 'cost', 'vr']);

/** Providers in the order automatic selection tries them: DEFAULT_LLM_PROVIDER first, then claude, openai, local. */
export function providerOrder(chat: Config['chat'], registry: ModelRegistry): ProviderId[] {
  const order: ProviderId[] = [];
  const pref = chat.defaultProvider?.toLowerCase();
  if (pref && registry.isConfigured(pref)) order.push(pref);
  for (const p of PROVIDER_ORDER) if (registry.isConfigured(p) && !order.includes(p)) order.push(p);
  return order;
}

const hasAll = (m: ModelInfo, caps: string[]) => caps.every((c) => m.capabilities.includes(c));

export async function selectModel(
  chat: Config['chat'],
  registry: ModelRegistry,
  req: SelectionRequest,
): Promise<Selection> {
  const warnings: string[] = [];
  const caps = req.requiredCapabilities?.filter(Boolean) ?? [];
  const fits = (m: ModelInfo | undefined): m is ModelInfo => !!m && hasAll(m, caps);
  const strict = req.strictness === 'error';
  const force = req.forceProvider !== false;

  if (caps.length) {
    const any = (await registry.list()).some((m) => hasAll(m, caps));
    if (!any) throw new HttpError(400, `No configured model has capabilities: ${caps.join(', ')}`);
  }

  // The requested provider, validated first so a mismatch with the model can be reported.
  let provider: ProviderId | undefined;
  if (req.provider) {
    const p = req.provider.toLowerCase();
    if (registry.isConfigured(p)) provider = p;
    else if (strict && force) {
      if ((KNOWN_PROVIDERS as readonly string[]).includes(p))
        throw new HttpError(400, `Provider ${p} is not configured`);
      throw new HttpError(400, `Provider ${req.provider} is not configured`);
    } else if (!strict) warnings.push(`Unknown or unconfigured provider '${req.provider}' ignored`);
  }

  // 1. The requested model.
  if (req.model) {
    const found = await registry.find(req.model);
    if (found) {
      if (req.provider && found.provider !== req.provider.toLowerCase()) {
        if (strict || provider)
          throw new HttpError(400, `Model '${found.id}' is not served by provider '${req.provider}'`);
      }
      if (fits(found)) return { model: found, reasoning: `Explicit model selection: ${found.id}`, warnings };
    } else if (strict) {
      const known = registry.known(req.model);
      if (!(known && !force)) throw new HttpError(400, `Model '${req.model}' is not available`);
    } else warnings.push(`Unknown model '${req.model}' ignored`);
  }

  // 2. The default model of the requested provider.
  if (provider) {
    const d = await registry.defaultModel(provider);
    if (fits(d)) return { model: d, reasoning: `Provider default for ${provider}: ${d.id}`, warnings };
  }

  // v0.2 auto-selection by price.
  if (req.autoSelect && req.priority && (CHEAP_PRIORITIES.has(req.priority) || req.priority === 'quality')) {
    const candidates = (provider ? await registry.modelsOf(provider) : await registry.list()).filter((m) =>
      hasAll(m, caps),
    );
    const sorted = [...candidates].sort((a, b) =>
      req.priority === 'quality' ? b.inputPrice - a.inputPrice : a.inputPrice - b.inputPrice,
    );
    if (sorted[0])
      return {
        model: sorted[0],
        reasoning: `Auto-selected for priority ${req.priority}: ${sorted[0].id}`,
        warnings,
      };
  }

  // 3. The persona's preferred model, while available.
  if (req.personaPreferred) {
    const m = await registry.find(req.personaPreferred);
    if (fits(m)) return { model: m, reasoning: `Persona preference: ${m.id}`, warnings };
  }

  // 4. DEFAULT_LLM_MODEL.
  if (chat.defaultModel) {
    const m = await registry.find(chat.defaultModel);
    if (fits(m)) return { model: m, reasoning: `Default model: ${m.id}`, warnings };
  }

  // 5. The default of the first configured provider; with capabilities, the first model that has them.
  for (const p of providerOrder(chat, registry)) {
    const d = await registry.defaultModel(p);
    if (fits(d)) return { model: d, reasoning: `Default model: ${d.id}`, warnings };
  }
  for (const p of providerOrder(chat, registry)) {
    const m = (await registry.modelsOf(p)).find((x) => hasAll(x, caps));
    if (m) return { model: m, reasoning: `Default model: ${m.id}`, warnings };
  }
  throw new HttpError(400, `No configured model has capabilities: ${caps.join(', ')}`);
}

/** Fallback targets: the default model of each other configured provider, once each; `local` only if it was the choice. */
export async function fallbackTargets(
  chat: Config['chat'],
  registry: ModelRegistry,
  original: ModelInfo,
): Promise<ModelInfo[]> {
  const out: ModelInfo[] = [];
  for (const p of providerOrder(chat, registry)) {
    if (p === original.provider) continue;
    if (p === 'local' && original.provider !== 'local') continue;
    const d = await registry.defaultModel(p);
    if (d) out.push(d);
  }
  return out;
}
