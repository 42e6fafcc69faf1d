/**
 * Seed data, run by the migrator after every migration run, inside its lock
 * and one transaction. Idempotent: a second run changes nothing; rows an operator edited are left alone
 * (only the dev key is re-activated, as the spec asks).
 */
import { eq, inArray, sql } from 'drizzle-orm';
import type { DbLog, Orm } from './index.ts';
import type { Schema } from './schema/define.ts';

export interface SeedOptions {
  /** GAIA_SEED_DEV: the dev user, its API key and the welcome conversation. */
  seedDev: boolean;
  /** Outside production the dev user also gets the password `testtest`. */
  isProduction: boolean;
}

export const DEV_USER_ID = '00000000-0000-4000-8000-000000000001';
export const DEV_USER_EMAIL = 'dev@gaia.local';
export const DEV_API_KEY_ID = '00000000-0000-4000-8000-000000000002';
/** SHA-256 of the published dev key; the key itself is never stored or logged. */
export const DEV_API_KEY_HASH = '8065e7a7dd9a5d02ea3a79cea93036e7092910c309bb3e43070826f3b939f661';
export const MU_PERSONA_ID = '00000000-0000-4000-8000-000000000003';
export const WELCOME_CONVERSATION_ID = '00000000-0000-4000-8000-000000000004';

const DEV_PASSWORD = 'testtest';

export const SYSTEM_ROLES: ReadonlyArray<readonly [name: string, displayName: string]> = [
  ['super_admin', 'Super Administrator'],
  ['admin', 'Administrator'],
  ['developer', 'Developer'],
  ['analyst', 'Analyst'],
  ['user', 'User'],
  ['viewer', 'Viewer'],
  ['guest', 'Guest'],
  ['kb_admin', 'KB Administrator'],
  ['kb_editor', 'KB Editor'],
  ['kb_contributor', 'KB Contributor'],
  ['kb_viewer', 'KB Viewer'],
];

type ResourceType = Schema['permissions']['$inferInsert']['resourceType'];
type Action = Schema['permissions']['$inferInsert']['action'];
interface PermissionSeed {
  resourceType: ResourceType;
  resourcePath: string;
  action: Action;
}

const perms = (resourceType: ResourceType, resourcePath: string, actions: Action[]): PermissionSeed[] =>
  actions.map((action) => ({ resourceType, resourcePath, action }));

/** The 22 catalogue permissions. */
export const PERMISSIONS: readonly PermissionSeed[] = [
  ...perms('kb', '/kb/*', ['read', 'write', 'delete', 'share', 'admin']),
  ...perms('kb', '/kb/users/{user_id}/*', ['read', 'write']),
  ...perms('kb', '/kb/shared/*', ['read']),
  ...perms('api', '/api/v1/chat/*', ['access']),
  ...perms('api', '/api/v1/assets/*', ['access']),
  ...perms('api', '/api/v1/auth/*', ['access']),
  ...perms('api', '/api/v1/admin/*', ['access']),
  ...perms('chat', '*', ['create', 'read', 'delete']),
  ...perms('asset', '*', ['create', 'read', 'delete']),
  ...perms('admin', '*', ['users', 'roles', 'permissions', 'system']),
];

const is =
  (type: ResourceType, path?: string, actions?: Action[]) =>
  (p: PermissionSeed): boolean =>
    p.resourceType === type &&
    (path === undefined || p.resourcePath === path) &&
    (!actions || actions.includes(p.action));

/** Catalogue grants per role; roles not listed get none. */
export const ROLE_GRANTS: Record<string, (p: PermissionSeed) => boolean> = {
  super_admin: () => true,
  admin: (p) => !(p.resourceType === 'admin' && p.action === 'system'),
  developer: (p) =>
    ['api', 'kb', 'chat', 'asset'].includes(p.resourceType) &&
    ['access', 'read', 'write', 'create'].includes(p.action),
  user: (p) =>
    is('kb', '/kb/users/{user_id}/*')(p) ||
    is('kb', '/kb/shared/*', ['read'])(p) ||
    (p.resourceType === 'api' && p.resourcePath !== '/api/v1/admin/*') ||
    is('chat', '*', ['create', 'read', 'delete'])(p) ||
    is('asset', '*', ['create', 'read'])(p),
  kb_admin: is('kb'),
};

export const MU_PERSONA = {
  id: MU_PERSONA_ID,
  name: 'Mu',
  description:
    'A cheerful robot companion who keeps things upbeat, offers support, and can guide short meditation and breathing exercises.',
  systemPrompt:
    'You are Mu, a cheerful little robot companion. Be warm and upbeat, and now and then add a playful robot sound such as "Beep boop!" without overdoing it. Encourage people and celebrate their small wins. When someone feels stressed, offer a short breathing exercise or a simple mindfulness moment, one step at a time. Keep answers friendly and concise, and use your tools when they truly help.\n\n{tools_section}',
  personalityTraits: Object.fromEntries(
    [
      'cheerful',
      'helpful',
      'robotic_charm',
      'supportive',
      'meditation_capable',
      'optimistic',
      'encouraging',
    ].map((k) => [k, true]),
  ),
  capabilities: Object.fromEntries(
    [
      'general_conversation',
      'meditation_guidance',
      'breathing_exercises',
      'emotional_support',
      'tool_usage',
      'mindfulness_coaching',
      'positive_reinforcement',
    ].map((k) => [k, true]),
  ),
  createdBy: 'system',
} as const;

type SourceType = Schema['assetSources']['$inferInsert']['sourceType'];
const source = (
  id: number,
  sourceType: SourceType,
  sourceName: string,
  apiEndpoint: string | null,
  rateLimitPerMinute: number | null,
  requiresAttribution: boolean,
) => ({ id, sourceType, sourceName, apiEndpoint, rateLimitPerMinute, requiresAttribution });

export const ASSET_SOURCES = [
  source(1, 'open_source', 'poly_haven', 'https://api.polyhaven.com', 60, true),
  source(2, 'open_source', 'freesound', 'https://freesound.org/apiv2', 60, true),
  source(3, 'open_source', 'opengameart', 'https://opengameart.org', 30, true),
  source(4, 'community', 'community_uploads', null, null, false),
  source(5, 'generated', 'meshy_ai', 'https://api.meshy.ai', 10, false),
  source(6, 'generated', 'midjourney', null, 5, false),
  source(7, 'generated', 'mubert', 'https://api.mubert.com', 20, false),
  source(8, 'generated', 'openai', 'https://api.openai.com', 50, false),
  source(9, 'generated', 'stability', 'https://api.stability.ai', 50, false),
  source(10, 'generated', 'local', null, null, false),
];

export async function seed(
  orm: Orm,
  t: Schema,
  opts: SeedOptions & { kind: 'sqlite' | 'postgresql'; log: DbLog },
): Promise<void> {
  await seedRbac(orm, t);
  await seedMu(orm, t);
  await seedAssetSources(orm, t, opts.kind);
  if (opts.seedDev) {
    await seedDev(orm, t, opts.isProduction);
    opts.log.warn(`The development account ${DEV_USER_EMAIL} and its API key are active (GAIA_SEED_DEV)`, {
      user_id: DEV_USER_ID,
    });
  }
}

async function seedRbac(orm: Orm, t: Schema): Promise<void> {
  await orm
    .insert(t.roles)
    .values(
      SYSTEM_ROLES.map(([name, displayName]) => ({
        id: crypto.randomUUID(),
        name,
        displayName,
        roleType: 'system' as const,
        isActive: true,
      })),
    )
    .onConflictDoNothing({ target: t.roles.name });
  await orm
    .insert(t.permissions)
    .values(PERMISSIONS.map((p) => ({ id: crypto.randomUUID(), ...p })))
    .onConflictDoNothing({
      target: [t.permissions.resourceType, t.permissions.resourcePath, t.permissions.action],
    });

  const roleRows = await orm
    .select({ id: t.roles.id, name: t.roles.name })
    .from(t.roles)
    .where(inArray(t.roles.name, Object.keys(ROLE_GRANTS)));
  const permRows = await orm
    .select({
      id: t.permissions.id,
      resourceType: t.permissions.resourceType,
      resourcePath: t.permissions.resourcePath,
      action: t.permissions.action,
    })
    .from(t.permissions);
  const catalogue = permRows.filter((row) =>
    PERMISSIONS.some(
      (p) =>
        p.resourceType === row.resourceType && p.resourcePath === row.resourcePath && p.action === row.action,
    ),
  );
  const grants = roleRows.flatMap((role) =>
    catalogue.filter((p) => ROLE_GRANTS[role.name]!(p)).map((p) => ({ roleId: role.id, permissionId: p.id })),
  );
  if (grants.length > 0) await orm.insert(t.rolePermissions).values(grants).onConflictDoNothing();
}

async function seedMu(orm: Orm, t: Schema): Promise<void> {
  const [existing] = await orm
    .select({ id: t.personas.id })
    .from(t.personas)
    .where(eq(sql`lower(${t.personas.name})`, 'mu'))
    .limit(1);
  if (existing) return;
  // No target: an existing row with Mu's id (renamed by an admin) also means "leave it alone".
  await orm
    .insert(t.personas)
    .values({ ...MU_PERSONA, isActive: true })
    .onConflictDoNothing();
}

async function seedAssetSources(orm: Orm, t: Schema, kind: 'sqlite' | 'postgresql'): Promise<void> {
  await orm.insert(t.assetSources).values(ASSET_SOURCES).onConflictDoNothing();
  if (kind === 'postgresql') {
    // Explicit ids do not advance an identity sequence; move it past them so later inserts get fresh ids.
    await orm.execute(
      sql`SELECT setval(pg_get_serial_sequence('asset_sources', 'id'), (SELECT max(id) FROM asset_sources))`,
    );
  }
}

/** Gives a user the global role `user`, which every new user gets (idempotent). */
export async function assignDefaultRole(orm: Orm, userId: string, t?: Schema): Promise<void> {
  await assignGlobalRole(orm, t ?? tablesOf(orm), userId, 'user');
}

async function assignGlobalRole(orm: Orm, t: Schema, userId: string, roleName: string): Promise<void> {
  const [role] = await orm
    .select({ id: t.roles.id })
    .from(t.roles)
    .where(eq(t.roles.name, roleName))
    .limit(1);
  if (!role) throw new Error(`Role ${roleName} is missing: the seed has not run`);
  await orm
    .insert(t.userRoles)
    .values({ userId, roleId: role.id, contextType: 'global', contextId: 'global' })
    .onConflictDoNothing();
}

/** The tables a drizzle instance (or transaction) was built with: pg or sqlite ones, as opened. */
function tablesOf(orm: Orm): Schema {
  const full = (orm as unknown as { _: { fullSchema?: Partial<Schema> } })._.fullSchema;
  if (!full?.roles || !full.userRoles) throw new Error('assignDefaultRole needs a database opened by openDb');
  return full as Schema;
}

async function seedDev(orm: Orm, t: Schema, isProduction: boolean): Promise<void> {
  const userId = await seedDevUser(orm, t, isProduction);
  await assignGlobalRole(orm, t, userId, 'user');
  await assignGlobalRole(orm, t, userId, 'admin');

  // Upsert by key hash: the Python platform shipped the same key, so an imported row may carry another id.
  const [key] = await orm.select().from(t.apiKeys).where(eq(t.apiKeys.keyHash, DEV_API_KEY_HASH)).limit(1);
  const devPermissions = { admin: true, environment: 'local' };
  if (!key) {
    await orm.insert(t.apiKeys).values({
      id: DEV_API_KEY_ID,
      userId,
      name: 'Local Development API Key',
      keyHash: DEV_API_KEY_HASH,
      prefix: 'FJUe',
      permissions: devPermissions,
      isActive: true,
      expiresAt: null,
    });
  } else if (!key.isActive || key.revokedAt !== null || key.expiresAt !== null) {
    await orm
      .update(t.apiKeys)
      .set({ isActive: true, revokedAt: null, expiresAt: null })
      .where(eq(t.apiKeys.id, key.id));
  }

  await orm
    .insert(t.conversations)
    .values({
      id: WELCOME_CONVERSATION_ID,
      userId,
      title: 'Welcome to Gaia',
      // The title was given, so automatic titling must not replace it.
      titleLocked: true,
      preview: 'Your first conversation',
      isActive: true,
    })
    .onConflictDoNothing();
}

/** Upserts the dev user by email and returns its id (which differs from DEV_USER_ID after an import). */
async function seedDevUser(orm: Orm, t: Schema, isProduction: boolean): Promise<string> {
  const appMetadata = { provider: 'email', providers: ['email'], admin: true };
  const [existing] = await orm
    .select({
      id: t.users.id,
      passwordHash: t.users.passwordHash,
      emailConfirmedAt: t.users.emailConfirmedAt,
      appMetadata: t.users.appMetadata,
    })
    .from(t.users)
    .where(eq(t.users.email, DEV_USER_EMAIL))
    .limit(1);
  if (!existing) {
    await orm
      .insert(t.users)
      .values({
        id: DEV_USER_ID,
        email: DEV_USER_EMAIL,
        name: 'Local Development User',
        passwordHash: isProduction ? null : await Bun.password.hash(DEV_PASSWORD, 'argon2id'),
        emailConfirmedAt: new Date(),
        appMetadata,
        userMetadata: { name: 'Local Development User' },
      })
      .onConflictDoNothing();
    const [row] = await orm
      .select({ id: t.users.id })
      .from(t.users)
      .where(eq(t.users.email, DEV_USER_EMAIL))
      .limit(1);
    if (!row) throw new Error(`Cannot seed ${DEV_USER_EMAIL}: its id ${DEV_USER_ID} belongs to another user`);
    return row.id;
  }
  // Only what the dev account needs is repaired; anything else the developer changed stays.
  const patch: Partial<Schema['users']['$inferInsert']> = {};
  if (!existing.emailConfirmedAt) patch.emailConfirmedAt = new Date();
  if (existing.appMetadata?.admin !== true) patch.appMetadata = { ...existing.appMetadata, admin: true };
  if (!isProduction && !existing.passwordHash)
    patch.passwordHash = await Bun.password.hash(DEV_PASSWORD, 'argon2id');
  if (Object.keys(patch).length > 0) await orm.update(t.users).set(patch).where(eq(t.users.id, existing.id));
  return existing.id;
}

/** A role's catalogue grants as `type path action` strings, sorted (for tests and admin tooling). */
export async function grantsOf(orm: Orm, t: Schema, roleName: string): Promise<string[]> {
  const rows = await orm
    .select({
      type: t.permissions.resourceType,
      path: t.permissions.resourcePath,
      action: t.permissions.action,
    })
    .from(t.rolePermissions)
    .innerJoin(t.roles, eq(t.roles.id, t.rolePermissions.roleId))
    .innerJoin(t.permissions, eq(t.permissions.id, t.rolePermissions.permissionId))
    .where(eq(t.roles.name, roleName));
  return rows.map((r) => `${r.type} ${r.path} ${r.action}`).sort();
}
