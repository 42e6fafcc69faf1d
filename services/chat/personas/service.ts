/**
 * Personas: one shared catalogue, each user's active choice, and the rules for who may
 * change what. The caller's persona falls back from their preference to the stored Mu to a built-in Mu, so
 * a chat never fails for want of a persona.
 */
import { and, asc, desc, eq, sql } from 'drizzle-orm';
import type { Db } from '../../../db/index.ts';
import { HttpError } from '../../../src/http/errors.ts';
import type { User } from '../../../src/http/service.ts';
import { isUuid } from '../conversations/service.ts';
import { Statements } from '../engine/statements.ts';

export const MU_ID = '00000000-0000-4000-8000-000000000003';

export interface PersonaRow {
  id: string;
  name: string;
  description: string;
  systemPrompt: string;
  personalityTraits: Record<string, unknown>;
  capabilities: Record<string, unknown>;
  preferredModel: string | null;
  /** Tool names or globs this persona's chats may use; null: no list (the KB tools); `[]`: none. */
  tools: string[] | null;
  isActive: boolean;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

const flags = (names: string[]) => Object.fromEntries(names.map((n) => [n, true]));

/** Mu as seeded; also the unstored fallback with id `default`. */
export const MU_SEED: Omit<PersonaRow, 'id' | 'createdAt' | 'updatedAt'> = {
  name: 'Mu',
  description:
    'A cheerful robot companion who keeps things upbeat, offers support, and can guide short meditation and breathing exercises.',
  systemPrompt:
    'You are Mu, a cheerful little robot companion. Be warm and upbeat, and now and then add a playful robot sound such as "Beep boop!" without overdoing it. Encourage people and celebrate their small wins. When someone feels stressed, offer a short breathing exercise or a simple mindfulness moment, one step at a time. Keep answers friendly and concise, and use your tools when they truly help.\n\n{tools_section}',
  personalityTraits: flags([
    'cheerful',
    'helpful',
    'robotic_charm',
    'supportive',
    'meditation_capable',
    'optimistic',
    'encouraging',
  ]),
  capabilities: flags([
    'general_conversation',
    'meditation_guidance',
    'breathing_exercises',
    'emotional_support',
    'tool_usage',
    'mindfulness_coaching',
    'positive_reinforcement',
  ]),
  preferredModel: null,
  tools: null,
  isActive: true,
  createdBy: 'system',
};

const EPOCH = new Date(0);
export const BUILTIN_MU: PersonaRow = { ...MU_SEED, id: 'default', createdAt: EPOCH, updatedAt: EPOCH };

export function personaJson(p: PersonaRow) {
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    system_prompt: p.systemPrompt,
    personality_traits: p.personalityTraits ?? {},
    capabilities: p.capabilities ?? {},
    preferred_model: p.preferredModel,
    tools: p.tools ?? null,
    is_active: p.isActive,
    created_by: p.createdBy,
    created_at: p.createdAt.toISOString(),
    updated_at: p.updatedAt.toISOString(),
  };
}

export const personaNotFound = (id: string): HttpError => new HttpError(404, `Persona not found: ${id}`);

export interface PersonaInput {
  name?: string;
  description?: string;
  system_prompt?: string;
  personality_traits?: Record<string, unknown>;
  capabilities?: Record<string, unknown>;
  preferred_model?: string | null;
  tools?: string[] | null;
  is_active?: boolean;
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e?.code ?? e?.cause?.code;
  const msg = `${e?.message ?? ''} ${e?.cause?.message ?? ''}`;
  return code === '23505' || /UNIQUE constraint failed|duplicate key/i.test(msg);
}

/**
 * How long a persona read for chat is reused. Why: every chat request resolves a persona (two queries, one
 * of them a join) while personas change rarely. Writes through this instance clear the cache at once; a
 * change made through another chat instance (split mode) shows here within this time.
 */
const PERSONA_CACHE_TTL_MS = 5000;
const PERSONA_CACHE_MAX = 1000;
const MU_KEY = '\u0000mu';

export class PersonaStore {
  private readonly stmts: Statements;
  /** Personas by lower-case id, and the active Mu under MU_KEY (null: none), for chat only. */
  private readonly cache = new Map<string, { row: PersonaRow | null; at: number }>();
  /** Bumped by every write, so a read that started before it never stores what it saw. */
  private generation = 0;

  constructor(private readonly db: Db) {
    this.stmts = new Statements(db);
  }

  private get p() {
    return this.db.t.personas;
  }

  /** Forgets every cached persona (after a write through this instance). */
  invalidate(): void {
    this.generation++;
    this.cache.clear();
  }

  private async cached(key: string, load: () => Promise<PersonaRow | null>): Promise<PersonaRow | null> {
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < PERSONA_CACHE_TTL_MS) return hit.row;
    const generation = this.generation;
    const row = await load();
    // Unknown ids are not remembered (they would only fill the cache); a missing Mu is.
    if (generation === this.generation && (row || key === MU_KEY)) {
      if (this.cache.size >= PERSONA_CACHE_MAX) this.cache.clear();
      this.cache.set(key, { row, at: Date.now() });
    }
    return row;
  }

  /** The persona row for chat, from the cache (see PERSONA_CACHE_TTL_MS). */
  private findForChat(id: string): Promise<PersonaRow | null> {
    if (!isUuid(id)) return Promise.resolve(null);
    const key = id.toLowerCase();
    return this.cached(key, async () => {
      const q = this.stmts.get('persona_by_id', (o) =>
        o
          .select()
          .from(this.p)
          .where(eq(this.p.id, sql.placeholder('id')))
          .limit(1),
      );
      const rows = await q.execute({ id: key });
      return (rows[0] as PersonaRow | undefined) ?? null;
    });
  }

  /** The user's stored choice (not cached: it is per user, and another instance may have just set it). */
  private async preferenceOf(userId: string): Promise<string | null> {
    const pref = this.db.t.userPersonaPreferences;
    const q = this.stmts.get('persona_preference', (o) =>
      o
        .select({ personaId: pref.personaId })
        .from(pref)
        .where(eq(pref.userId, sql.placeholder('userId')))
        .limit(1),
    );
    const rows = await q.execute({ userId });
    return rows[0]?.personaId ?? null;
  }

  async list(activeOnly: boolean): Promise<PersonaRow[]> {
    const rows = await this.db.orm
      .select()
      .from(this.p)
      .where(activeOnly ? eq(this.p.isActive, true) : undefined)
      .orderBy(desc(this.p.createdAt), asc(this.p.id));
    return rows as PersonaRow[];
  }

  async find(id: string): Promise<PersonaRow | null> {
    if (!isUuid(id)) return null;
    const rows = await this.db.orm.select().from(this.p).where(eq(this.p.id, id.toLowerCase())).limit(1);
    return (rows[0] as PersonaRow | undefined) ?? null;
  }

  async require(id: string): Promise<PersonaRow> {
    const row = await this.find(id);
    if (!row) throw personaNotFound(id);
    return row;
  }

  private async activeMu(): Promise<PersonaRow | null> {
    const rows = await this.db.orm
      .select()
      .from(this.p)
      .where(and(sql`lower(${this.p.name}) = 'mu'`, eq(this.p.isActive, true)))
      .limit(1);
    return (rows[0] as PersonaRow | undefined) ?? null;
  }

  /** The caller's active persona: the preference if that persona is active, else the active Mu, else the built-in Mu. */
  async current(userId: string): Promise<PersonaRow> {
    const pref = this.db.t.userPersonaPreferences;
    const rows = await this.db.orm
      .select({ persona: this.p })
      .from(pref)
      .innerJoin(this.p, eq(pref.personaId, this.p.id))
      .where(eq(pref.userId, userId))
      .limit(1);
    const chosen = rows[0]?.persona as PersonaRow | undefined;
    if (chosen?.isActive) return chosen;
    return (await this.activeMu()) ?? BUILTIN_MU;
  }

  /**
   * The persona a chat request names; must be active to chat with. Absent or `default`: the
   * caller's active persona, resolved as `current` does, with persona rows from the cache.
   */
  async forChat(userId: string, personaId: string | null | undefined): Promise<PersonaRow> {
    if (personaId === undefined || personaId === null || personaId === '' || personaId === 'default') {
      const prefId = await this.preferenceOf(userId);
      if (prefId !== null) {
        const chosen = await this.findForChat(prefId);
        if (chosen?.isActive) return chosen;
      }
      return (await this.cached(MU_KEY, () => this.activeMu())) ?? BUILTIN_MU;
    }
    const row = await this.findForChat(personaId);
    if (!row?.isActive) throw personaNotFound(personaId);
    return row;
  }

  private async nameTaken(name: string, exceptId?: string): Promise<boolean> {
    const rows = await this.db.orm
      .select({ id: this.p.id })
      .from(this.p)
      .where(sql`lower(${this.p.name}) = ${name.toLowerCase()}`)
      .limit(2);
    return rows.some((r) => r.id !== exceptId);
  }

  async create(user: User, input: Required<Pick<PersonaInput, 'name' | 'system_prompt'>> & PersonaInput) {
    const name = input.name.trim();
    if (await this.nameTaken(name)) throw new HttpError(409, `Persona name already exists: ${name}`);
    const now = new Date();
    const row: PersonaRow = {
      id: crypto.randomUUID(),
      name,
      description: input.description ?? '',
      systemPrompt: input.system_prompt,
      personalityTraits: input.personality_traits ?? {},
      capabilities: input.capabilities ?? {},
      preferredModel: input.preferred_model ?? null,
      tools: input.tools ?? null,
      isActive: true,
      createdBy: user.id,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.db.orm.insert(this.p).values(row);
    } catch (err) {
      // Two creators racing past the check meet the unique index instead.
      if (isUniqueViolation(err)) throw new HttpError(409, `Persona name already exists: ${name}`);
      throw err;
    } finally {
      this.invalidate();
    }
    return row;
  }

  /** Only the creator or an admin; seeded personas only admins. */
  private assertMayModify(user: User, row: PersonaRow): void {
    if (user.admin) return;
    if (row.createdBy !== 'system' && row.createdBy === user.id) return;
    throw new HttpError(403, 'Not allowed to modify this persona');
  }

  async update(user: User, id: string, input: PersonaInput): Promise<PersonaRow> {
    const row = await this.require(id);
    this.assertMayModify(user, row);
    const set: Partial<PersonaRow> = { updatedAt: new Date() };
    if (input.name !== undefined) {
      const name = input.name.trim();
      if (name.toLowerCase() !== row.name.toLowerCase() && (await this.nameTaken(name, row.id)))
        throw new HttpError(409, `Persona name already exists: ${name}`);
      set.name = name;
    }
    if (input.description !== undefined) set.description = input.description;
    if (input.system_prompt !== undefined) set.systemPrompt = input.system_prompt;
    if (input.personality_traits !== undefined) set.personalityTraits = input.personality_traits;
    if (input.capabilities !== undefined) set.capabilities = input.capabilities;
    if (input.preferred_model !== undefined) set.preferredModel = input.preferred_model;
    if (input.tools !== undefined) set.tools = input.tools;
    if (input.is_active !== undefined) set.isActive = input.is_active;
    try {
      await this.db.orm.update(this.p).set(set).where(eq(this.p.id, row.id));
    } catch (err) {
      if (isUniqueViolation(err)) throw new HttpError(409, `Persona name already exists: ${set.name}`);
      throw err;
    } finally {
      this.invalidate();
    }
    return { ...row, ...set };
  }

  async remove(user: User, id: string): Promise<PersonaRow> {
    const row = await this.require(id);
    this.assertMayModify(user, row);
    try {
      await this.db.orm
        .update(this.p)
        .set({ isActive: false, updatedAt: new Date() })
        .where(eq(this.p.id, row.id));
    } finally {
      this.invalidate();
    }
    return { ...row, isActive: false };
  }

  async setActive(userId: string, id: string): Promise<PersonaRow> {
    const row = await this.require(id);
    if (!row.isActive) throw new HttpError(400, `Persona is not active: ${id}`);
    const pref = this.db.t.userPersonaPreferences;
    const now = new Date();
    await this.db.orm
      .insert(pref)
      .values({ userId, personaId: row.id, updatedAt: now })
      .onConflictDoUpdate({ target: pref.userId, set: { personaId: row.id, updatedAt: now } });
    return row;
  }

  /** Seeds Mu when no persona is named Mu (inactive ones included); never overwrites. */
  async initializeDefault(): Promise<{ persona: PersonaRow; created: boolean }> {
    const existing = await this.db.orm
      .select()
      .from(this.p)
      .where(sql`lower(${this.p.name}) = 'mu'`)
      .limit(1);
    if (existing[0]) return { persona: existing[0] as PersonaRow, created: false };
    const now = new Date();
    const row: PersonaRow = { ...MU_SEED, id: MU_ID, createdAt: now, updatedAt: now };
    const taken = await this.find(MU_ID);
    if (taken) row.id = crypto.randomUUID();
    try {
      await this.db.orm.insert(this.p).values(row);
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      // Someone else (another instance) seeded Mu meanwhile.
      this.invalidate();
      const again = await this.db.orm.select().from(this.p).where(sql`lower(${this.p.name}) = 'mu'`).limit(1);
      return { persona: again[0] as PersonaRow, created: false };
    }
    this.invalidate();
    return { persona: row, created: true };
  }
}
