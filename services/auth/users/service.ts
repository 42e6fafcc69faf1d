/**
 * The `users` table as the auth service sees it: lookups by id and by
 * normalised email, the Supabase mirror upsert, and the User object built from a row.
 */
import { eq } from 'drizzle-orm';
import { assignDefaultRole, constraintViolation, type Db, type Orm } from '../../../db/index.ts';
import { sha256Hex } from '../../../src/security/apikey.ts';
import type { JsonObject, UserObject } from './model.ts';

export type UserRow = Db['t']['users']['$inferSelect'];

export const DEFAULT_APP_METADATA: JsonObject = { provider: 'email', providers: ['email'] };

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isUuid(v: unknown): v is string {
  return typeof v === 'string' && UUID_RE.test(v);
}

/** Emails are trimmed and lower-cased before every lookup and insert. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

/** A stable identity id per user, so the same user always shows the same `identities[0].identity_id`. */
function identityIdOf(userId: string): string {
  const h = sha256Hex(`gaia-identity:${userId}`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function toUserObject(row: UserRow): UserObject {
  const created = row.createdAt.toISOString();
  const updated = row.updatedAt.toISOString();
  const confirmed = iso(row.emailConfirmedAt);
  const lastSignIn = iso(row.lastSignInAt);
  return {
    id: row.id,
    aud: 'authenticated',
    role: 'authenticated',
    email: row.email,
    email_confirmed_at: confirmed,
    phone: '',
    confirmed_at: confirmed,
    last_sign_in_at: lastSignIn,
    app_metadata: row.appMetadata ?? DEFAULT_APP_METADATA,
    user_metadata: row.userMetadata ?? {},
    identities: [
      {
        identity_id: identityIdOf(row.id),
        id: row.id,
        user_id: row.id,
        provider: 'email',
        identity_data: { sub: row.id, email: row.email, email_verified: confirmed !== null },
        created_at: created,
        updated_at: updated,
        last_sign_in_at: lastSignIn,
      },
    ],
    created_at: created,
    updated_at: updated,
    is_anonymous: false,
  };
}

/** What a Supabase user object says about the row that mirrors it. */
export interface MirroredUser {
  id: string;
  email: string | null;
  emailConfirmedAt: Date | null;
  lastSignInAt: Date | null;
  appMetadata: JsonObject;
  userMetadata: JsonObject;
}

export function displayNameOf(meta: JsonObject | null | undefined): string | null {
  const name = meta?.name;
  return typeof name === 'string' && name.trim() ? name.trim().slice(0, 100) : null;
}

export class UserStore {
  constructor(private readonly db: Db) {}

  async byId(id: string, orm: Orm = this.db.orm): Promise<UserRow | null> {
    if (!isUuid(id)) return null;
    const t = this.db.t;
    const [row] = await orm.select().from(t.users).where(eq(t.users.id, id)).limit(1);
    return row ?? null;
  }

  async byEmail(email: string, orm: Orm = this.db.orm): Promise<UserRow | null> {
    const t = this.db.t;
    const [row] = await orm.select().from(t.users).where(eq(t.users.email, email)).limit(1);
    return row ?? null;
  }

  /**
   * Upserts the row mirroring a Supabase user (id = Supabase id). If the email already belongs to another
   * row (a local account, or one the gateway created), the mirror is stored without an email, as the
   * gateway does. New users get the default global role.
   */
  async upsertMirror(u: MirroredUser): Promise<void> {
    if (!isUuid(u.id)) return;
    const t = this.db.t;
    const write = (email: string | null) =>
      this.db.tx(async (tx) => {
        const values = {
          id: u.id,
          email,
          name: displayNameOf(u.userMetadata),
          emailConfirmedAt: u.emailConfirmedAt,
          appMetadata: u.appMetadata,
          userMetadata: u.userMetadata,
          lastSignInAt: u.lastSignInAt,
        };
        await tx
          .insert(t.users)
          .values(values)
          .onConflictDoUpdate({
            target: t.users.id,
            set: {
              email,
              name: values.name,
              emailConfirmedAt: values.emailConfirmedAt,
              appMetadata: values.appMetadata,
              userMetadata: values.userMetadata,
              lastSignInAt: values.lastSignInAt,
              updatedAt: new Date(),
            },
          });
        await assignDefaultRole(tx, u.id, t);
      });
    try {
      await write(u.email);
    } catch (err) {
      if (constraintViolation(err) !== 'unique' || u.email === null) throw err;
      await write(null);
    }
  }

  async setName(id: string, name: string): Promise<UserRow | null> {
    const t = this.db.t;
    return this.db.tx(async (tx) => {
      const row = await this.byId(id, tx);
      if (!row) return null;
      const userMetadata = { ...(row.userMetadata ?? {}), name };
      const [updated] = await tx
        .update(t.users)
        .set({ name, userMetadata, updatedAt: new Date() })
        .where(eq(t.users.id, id))
        .returning();
      return updated ?? null;
    });
  }
}
