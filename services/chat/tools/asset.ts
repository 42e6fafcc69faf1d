/**
 * The asset tool: a model asks for an image, texture, 3D model or sound and the asset service makes it, as the
 * chatting user (their budget, their ownership, their reuse scope). The model gets the service's answer (the
 * asset with its signed download link, or the job when the generation outlasts the wait) and passes the link on.
 */
import type { ServiceClient } from '../../../src/http/client.ts';
import type { Logger } from '../../../src/log.ts';
import { HealthGate, identityOf } from './backend.ts';
import {
  clipSummary,
  type OfferedTool,
  parseArgs,
  type ToolOutcome,
  type ToolRunContext,
  type ToolSource,
  toolError,
} from './types.ts';

/** Categories a model can ask for; `animation` has no provider, so offering it would only earn refusals. */
const CATEGORIES = ['image', 'texture', 'environment', 'character', 'prop', 'audio'];
const QUALITIES = ['low', 'medium', 'high', 'ultra'];
/** How long the tool waits before settling for the job (a chat turn should not sit on a 3D model). */
const WAIT_MS = 60_000;

export const ASSET_TOOL: OfferedTool = {
  name: 'generate_asset',
  selector: 'asset:generate',
  source: 'asset',
  description:
    "Generate a game or app asset (image, seamless texture, 3D model of an environment/character/prop, or audio) from a description. Returns the asset with a download link to give the user, or a job to check later when it takes long. Costs money from the user's daily budget.",
  parameters: {
    type: 'object',
    properties: {
      category: { type: 'string', enum: CATEGORIES },
      description: { type: 'string', description: 'What to make, in detail' },
      style: {
        type: 'string',
        description: 'Visual or musical style, e.g. "pixel art", "low poly", "orchestral"',
      },
      quality: { type: 'string', enum: QUALITIES, default: 'medium' },
    },
    required: ['category', 'description', 'style'],
  },
};

const UNREACHABLE = 'The asset service is not reachable right now.';

export class AssetTool implements ToolSource {
  readonly kind = 'asset' as const;
  private readonly health: HealthGate;

  constructor(
    private readonly asset: ServiceClient,
    private readonly log: Logger,
  ) {
    this.health = new HealthGate(asset);
  }

  async tools(): Promise<OfferedTool[]> {
    return (await this.health.up()) ? [ASSET_TOOL] : [];
  }

  async run(name: string, rawArgs: string, ctx: ToolRunContext): Promise<ToolOutcome> {
    if (name !== ASSET_TOOL.name) return toolError(`Unknown tool: ${name}`);
    const a = parseArgs(rawArgs);
    const body: Record<string, unknown> = {
      category: a.category,
      description: a.description,
      preferences: { max_wait_time_ms: WAIT_MS },
    };
    // The asset service requires a style; a model that leaves it out gets a neutral one rather than a refusal.
    body.style = typeof a.style === 'string' && a.style.trim() ? a.style : 'general';
    if (typeof a.quality === 'string') body.requirements = { quality: a.quality };
    let res: Response;
    try {
      res = await this.asset.fetch('/api/v1/assets/generate', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: ctx.signal,
        timeoutMs: WAIT_MS + 10_000,
        identity: identityOf(ctx.user, ctx.requestId),
      });
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      this.log.warn('asset tool failed', { error: (err as Error)?.message ?? String(err) });
      return toolError(UNREACHABLE);
    }
    const text = await res.text();
    let parsed: Record<string, unknown> | null = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    if (!parsed) return toolError('The asset service sent an unreadable answer.');
    if (!res.ok) {
      // Budget refusals keep their figures (the model can tell the user what is left); other errors their detail.
      const detail =
        typeof parsed.detail === 'string' ? parsed.detail : `Asset request failed (HTTP ${res.status})`;
      return {
        ok: false,
        content: JSON.stringify({ error: detail, status: res.status, ...without(parsed, 'detail') }),
        summary: clipSummary(res.status === 402 ? `Refused: ${detail}` : detail),
      };
    }
    if (res.status === 202)
      return {
        ok: true,
        content: JSON.stringify(parsed),
        summary: clipSummary(`Generation still running (job ${String(parsed.job_id ?? '')})`),
      };
    const cost = typeof parsed.cost === 'number' ? ` for $${parsed.cost.toFixed(4)}` : '';
    const source = parsed.source === 'database' ? 'Reused an existing' : 'Generated';
    return {
      ok: true,
      content: JSON.stringify(parsed),
      summary: clipSummary(`${source} ${String(a.category ?? 'asset')}${cost}`),
    };
  }
}

function without(obj: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _drop, ...rest } = obj;
  return rest;
}
