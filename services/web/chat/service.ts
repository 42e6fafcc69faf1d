/**
 * What the chat pages read from the gateway: conversation pages, one conversation with its messages, the
 * persona catalogue and the current persona (cached per session for 60 s for the stream's metadata).
 */
import type { WebContext } from '../context.ts';
import type { Conversation, ConversationPage, Message, Persona } from './views.ts';

const PERSONA_TTL_MS = 60_000;

/** Title by chat's own rule: whitespace collapsed, 50 code points, "..." when cut. */
export function titleFor(message: string): string {
  const t = message.trim().replace(/\s+/g, ' ');
  const points = Array.from(t);
  return points.length > 50 ? `${points.slice(0, 50).join('')}...` : t;
}

export async function listConversations(
  ctx: WebContext,
  offset: number,
  pageSize: number,
  q?: string,
): Promise<ConversationPage> {
  const params = new URLSearchParams({ limit: String(pageSize), offset: String(offset) });
  if (q) params.set('q', q);
  const { res, body } = await ctx.apiJson<{ conversations?: Conversation[] }>(
    `/api/v1/conversations?${params}`,
  );
  if (!res.ok) throw new Error(`conversation list answered ${res.status}`);
  const items = body?.conversations ?? [];
  const total = Number(res.headers.get('x-total-count') ?? Number.NaN);
  return { items, offset, total: Number.isFinite(total) ? total : offset + items.length };
}

export type LoadedConversation =
  | { found: true; conversation: Conversation; messages: Message[] }
  | { found: false };

export async function loadConversation(ctx: WebContext, id: string): Promise<LoadedConversation> {
  const base = `/api/v1/conversations/${encodeURIComponent(id)}`;
  const [c, m] = await Promise.all([
    ctx.apiJson<Conversation>(base),
    ctx.apiJson<{ messages?: Message[] }>(`${base}/messages`),
  ]);
  if (c.res.status === 404 || m.res.status === 404 || c.res.status === 422) return { found: false };
  if (!c.res.ok || !m.res.ok || !c.body)
    throw new Error(`conversation answered ${c.res.status}/${m.res.status}`);
  return { found: true, conversation: c.body, messages: m.body?.messages ?? [] };
}

export async function listPersonas(ctx: WebContext): Promise<Persona[]> {
  const { res, body } = await ctx.apiJson<{ personas?: Persona[] }>('/api/v0.2/personas?active_only=true');
  if (!res.ok) return [];
  return body?.personas ?? [];
}

export async function currentPersona(ctx: WebContext): Promise<Persona | null> {
  const { res, body } = await ctx.apiJson<{ persona?: Persona }>('/api/v0.2/personas/current');
  if (!res.ok || !body?.persona) return null;
  return body.persona;
}

/** Per-session cache of the current persona's name, for the stream's metadata event. */
export class PersonaNames {
  private readonly cache = new Map<string, { name: string | null; until: number }>();

  private key(ctx: WebContext): string {
    const s = ctx.session!;
    return `${s.uid}:${s.sid || s.iat}`;
  }

  async get(ctx: WebContext): Promise<string | null> {
    const now = Date.now();
    const key = this.key(ctx);
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.name;
    if (this.cache.size > 10_000) for (const [k, v] of this.cache) if (v.until <= now) this.cache.delete(k);
    const p = await currentPersona(ctx);
    const name = p?.name ?? null;
    this.cache.set(key, { name, until: now + PERSONA_TTL_MS });
    return name;
  }

  forget(ctx: WebContext): void {
    this.cache.delete(this.key(ctx));
  }
}
