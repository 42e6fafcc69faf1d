/**
 * Every table Gaia stores, declared once for both dialects (see builders.ts).
 *
 * Property names are the camelCase of the spec's snake_case SQL names. Timestamps are set by the app, never
 * by the database: creation times and `updated_at` get a `$defaultFn` so inserts may omit them, and
 * `updated_at` also an `$onUpdateFn`. A column is NOT NULL where the spec says so, and also where a NULL
 * would break the table: primary and unique keys (NULLs never collide), columns with a default, and the
 * discriminators every row must have (a message's role, a job's status…).
 */
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { Builder } from './builders.ts';

export type JsonObject = Record<string, unknown>;

/**
 * One tool call stored with an assistant message: what the model asked for and how it went. The chat
 * service owns the meaning of each field; the schema only needs the shape for typing.
 */
export interface StoredToolCallColumn {
  id: string;
  name: string;
  arguments: unknown;
  ok: boolean;
  summary: string;
  duration_ms: number;
  result: string;
}

export const ROLE_TYPES = ['system', 'custom', 'team', 'workspace'] as const;
export const ASSET_CATEGORIES = [
  'environment',
  'character',
  'prop',
  'audio',
  'texture',
  'animation',
  'image',
] as const;
export const PERMISSION_ACTIONS = [
  'read',
  'write',
  'delete',
  'share',
  'admin',
  'access',
  'create',
  'users',
  'roles',
  'permissions',
  'system',
] as const;
export const RESOURCE_TYPES = ['kb', 'api', 'chat', 'asset', 'admin'] as const;

const now = () => new Date();

export function defineSchema(b: Builder) {
  /** A creation time (`created_at`, `joined_at`, `occurred_at`…): NOT NULL, stamped by the app. */
  const stamp = <N extends string>(name: N) => b.ts(name).notNull().$defaultFn(now);
  const createdAt = () => stamp('created_at');
  const updatedAt = () => b.ts('updated_at').notNull().$defaultFn(now).$onUpdateFn(now);
  const pk = () => b.uuid('id').primaryKey();

  // ── 2.1 Identity and auth ────────────────────────────────────────────────────────────────────────────

  const users = b.table(
    'users',
    {
      id: pk(),
      email: b.text('email'),
      name: b.text('name'),
      passwordHash: b.text('password_hash'),
      emailConfirmedAt: b.ts('email_confirmed_at'),
      appMetadata: b
        .json<JsonObject>('app_metadata')
        .notNull()
        .default({ provider: 'email', providers: ['email'] }),
      userMetadata: b.json<JsonObject>('user_metadata').notNull().default({}),
      lastSignInAt: b.ts('last_sign_in_at'),
      createdAt: createdAt(),
      updatedAt: updatedAt(),
    },
    (t) => [b.uniqueIndex('users_email_unique').on(t.email)],
  );

  const authSessions = b.table(
    'auth_sessions',
    {
      id: pk(),
      userId: b.uuid('user_id').references(() => users.id, { onDelete: 'cascade' }),
      userAgent: b.text('user_agent'),
      refreshedAt: b.ts('refreshed_at'),
      revokedAt: b.ts('revoked_at'),
      revokedReason: b.enumText('revoked_reason', ['user', 'refresh_token_reuse']),
      createdAt: createdAt(),
    },
    (t) => [
      b.index('auth_sessions_user_id_idx').on(t.userId),
      // Gateways load recent revocations at start; most sessions are never revoked.
      b
        .index('auth_sessions_revoked_at_idx')
        .on(t.revokedAt)
        .where(b.sql`${b.sql.identifier('revoked_at')} IS NOT NULL`),
    ],
  );

  const refreshTokens = b.table(
    'refresh_tokens',
    {
      id: pk(),
      sessionId: b.uuid('session_id').references(() => authSessions.id, { onDelete: 'cascade' }),
      userId: b.uuid('user_id').references(() => users.id, { onDelete: 'cascade' }),
      tokenHash: b.text('token_hash').notNull(),
      parentId: b.uuid('parent_id'),
      usedAt: b.ts('used_at'),
      revokedAt: b.ts('revoked_at'),
      createdAt: createdAt(),
    },
    (t) => [
      b.uniqueIndex('refresh_tokens_token_hash_unique').on(t.tokenHash),
      b.index('refresh_tokens_session_id_idx').on(t.sessionId),
    ],
  );

  const apiKeys = b.table(
    'api_keys',
    {
      id: pk(),
      userId: b
        .uuid('user_id')
        .notNull()
        .references(() => users.id, { onDelete: 'cascade' }),
      name: b.text('name').notNull(),
      keyHash: b.text('key_hash').notNull(),
      prefix: b.text('prefix').notNull(),
      permissions: b.json<JsonObject>('permissions').notNull().default({}),
      isActive: b.bool('is_active').notNull().default(true),
      expiresAt: b.ts('expires_at'),
      lastUsedAt: b.ts('last_used_at'),
      revokedAt: b.ts('revoked_at'),
      createdAt: createdAt(),
      updatedAt: updatedAt(),
    },
    (t) => [
      b.uniqueIndex('api_keys_key_hash_unique').on(t.keyHash),
      b.index('api_keys_user_id_is_active_idx').on(t.userId, t.isActive),
    ],
  );

  // ── 2.2 Chat and personas ────────────────────────────────────────────────────────────────────────────

  const conversations = b.table(
    'conversations',
    {
      id: pk(),
      userId: b
        .uuid('user_id')
        .notNull()
        .references(() => users.id, { onDelete: 'cascade' }),
      title: b.text('title').notNull().default('New Conversation'),
      titleLocked: b.bool('title_locked').notNull().default(false),
      preview: b.text('preview').notNull().default(''),
      isActive: b.bool('is_active').notNull().default(true),
      createdAt: createdAt(),
      updatedAt: updatedAt(),
    },
    (t) => [b.index('conversations_user_id_is_active_updated_at_idx').on(t.userId, t.isActive, t.updatedAt)],
  );

  const personas = b.table(
    'personas',
    {
      id: pk(),
      name: b.text('name').notNull(),
      description: b.text('description').notNull().default(''),
      systemPrompt: b.text('system_prompt').notNull(),
      personalityTraits: b.json<JsonObject>('personality_traits').notNull().default({}),
      capabilities: b.json<JsonObject>('capabilities').notNull().default({}),
      preferredModel: b.text('preferred_model'),
      // Tool names or globs the persona's chats may use. NULL means no list (the default KB tools), which
      // is not the same as `[]` (no tools at all), so there is deliberately no default.
      tools: b.json<string[]>('tools'),
      isActive: b.bool('is_active').notNull().default(true),
      createdBy: b.text('created_by').notNull(),
      createdAt: createdAt(),
      updatedAt: updatedAt(),
    },
    (t) => [
      // Names are unique case-insensitively, inactive rows included, so a deleted name stays taken.
      b.uniqueIndex('personas_name_lower_unique').on(b.sql`lower(${b.sql.identifier('name')})`),
      b.index('personas_is_active_created_at_idx').on(t.isActive, t.createdAt),
    ],
  );

  const chatMessages = b.table(
    'chat_messages',
    {
      id: pk(),
      conversationId: b
        .uuid('conversation_id')
        .notNull()
        .references(() => conversations.id, { onDelete: 'cascade' }),
      userId: b
        .uuid('user_id')
        .notNull()
        .references(() => users.id, { onDelete: 'cascade' }),
      seq: b.int('seq').notNull(),
      role: b.enumText('role', ['user', 'assistant', 'system']).notNull(),
      content: b.text('content').notNull(),
      status: b.enumText('status', ['complete', 'partial', 'error']).notNull().default('complete'),
      finishReason: b.text('finish_reason'),
      model: b.text('model'),
      provider: b.text('provider'),
      personaId: b.uuid('persona_id').references(() => personas.id, { onDelete: 'set null' }),
      inputTokens: b.int('input_tokens'),
      outputTokens: b.int('output_tokens'),
      tokensUsed: b.int('tokens_used'),
      costUsd: b.real('cost_usd'),
      // The tool calls that led to an assistant message, with their results; NULL on every other message.
      toolCalls: b.json<StoredToolCallColumn[]>('tool_calls'),
      createdAt: createdAt(),
    },
    (t) => [
      b.uniqueIndex('chat_messages_conversation_id_seq_unique').on(t.conversationId, t.seq),
      b.index('chat_messages_user_id_created_at_idx').on(t.userId, t.createdAt),
    ],
  );

  const llmUsage = b.table(
    'llm_usage',
    {
      id: pk(),
      userId: b.uuid('user_id').references(() => users.id, { onDelete: 'cascade' }),
      conversationId: b.uuid('conversation_id').references(() => conversations.id, { onDelete: 'set null' }),
      messageId: b.uuid('message_id').references(() => chatMessages.id, { onDelete: 'set null' }),
      endpoint: b.text('endpoint'),
      provider: b.text('provider'),
      model: b.text('model'),
      inputTokens: b.int('input_tokens'),
      outputTokens: b.int('output_tokens'),
      costUsd: b.real('cost_usd'),
      estimated: b.bool('estimated'),
      status: b.enumText('status', ['ok', 'error', 'aborted']),
      latencyMs: b.int('latency_ms'),
      // The chat request a call served: a scenario's lead and specialists are several rows of one request.
      requestId: b.text('request_id'),
      createdAt: createdAt(),
    },
    (t) => [b.index('llm_usage_user_id_created_at_idx').on(t.userId, t.createdAt)],
  );

  const userPersonaPreferences = b.table(
    'user_persona_preferences',
    {
      userId: b
        .uuid('user_id')
        .primaryKey()
        .references(() => users.id, { onDelete: 'cascade' }),
      personaId: b
        .uuid('persona_id')
        .notNull()
        .references(() => personas.id, { onDelete: 'cascade' }),
      updatedAt: updatedAt(),
    },
    (t) => [b.index('user_persona_preferences_persona_id_idx').on(t.personaId)],
  );

  // ── 2.3 Assets ───────────────────────────────────────────────────────────────────────────────────────

  const assetSources = b.table(
    'asset_sources',
    {
      id: b.serial('id'),
      sourceType: b.enumText('source_type', ['open_source', 'community', 'generated']),
      sourceName: b.text('source_name').notNull(),
      apiEndpoint: b.text('api_endpoint'),
      isActive: b.bool('is_active').notNull().default(true),
      rateLimitPerMinute: b.int('rate_limit_per_minute'),
      requiresAttribution: b.bool('requires_attribution').notNull().default(false),
      costPerRequestMicroUsd: b.bigint('cost_per_request_micro_usd').notNull().default(0),
      createdAt: createdAt(),
      updatedAt: updatedAt(),
    },
    (t) => [b.uniqueIndex('asset_sources_source_name_unique').on(t.sourceName)],
  );

  const assets = b.table(
    'assets',
    {
      id: pk(),
      userId: b.uuid('user_id').references(() => users.id, { onDelete: 'cascade' }),
      sourceId: b.int('source_id').references(() => assetSources.id, { onDelete: 'set null' }),
      sessionId: b.text('session_id'),
      category: b.enumText('category', ASSET_CATEGORIES).notNull(),
      title: b.text('title').notNull(),
      description: b.text('description'),
      style: b.text('style'),
      styleTags: b.json<string[]>('style_tags').notNull().default([]),
      provider: b.text('provider'),
      model: b.text('model'),
      fileFormat: b.text('file_format'),
      contentType: b.text('content_type'),
      sizeBytes: b.bigint('size_bytes'),
      sha256: b.text('sha256'),
      storageKey: b.text('storage_key').notNull(),
      previewKey: b.text('preview_key'),
      previewContentType: b.text('preview_content_type'),
      qualityScore: b.real('quality_score'),
      licenseType: b.enumText('license_type', [
        'creative_commons',
        'public_domain',
        'custom',
        'commercial',
        'proprietary',
      ]),
      attributionRequired: b.bool('attribution_required').notNull().default(false),
      requestHash: b.text('request_hash').notNull(),
      costMicroUsd: b.bigint('cost_micro_usd').notNull(),
      response: b.json<JsonObject>('response'),
      metadata: b.json<JsonObject>('metadata').notNull().default({}),
      downloadCount: b.bigint('download_count').notNull().default(0),
      createdAt: createdAt(),
      updatedAt: updatedAt(),
    },
    (t) => [
      b.check(
        'assets_quality_score_check',
        b.sql`${b.sql.identifier('quality_score')} >= 0 AND ${b.sql.identifier('quality_score')} <= 1`,
      ),
      b.index('assets_user_id_created_at_idx').on(t.userId, t.createdAt),
      b.index('assets_request_hash_created_at_idx').on(t.requestHash, t.createdAt),
      b.index('assets_category_created_at_idx').on(t.category, t.createdAt),
    ],
  );

  const assetJobs = b.table(
    'asset_jobs',
    {
      id: pk(),
      userId: b.uuid('user_id').references(() => users.id, { onDelete: 'cascade' }),
      sessionId: b.text('session_id'),
      category: b.enumText('category', ASSET_CATEGORIES).notNull(),
      provider: b.text('provider'),
      providerTaskId: b.text('provider_task_id'),
      status: b.enumText('status', ['queued', 'processing', 'completed', 'failed']).notNull(),
      progress: b.int('progress'),
      request: b.json<JsonObject>('request').notNull(),
      requestHash: b.text('request_hash').notNull(),
      estimatedCostMicroUsd: b.bigint('estimated_cost_micro_usd'),
      reservedMicroUsd: b.bigint('reserved_micro_usd'),
      costMicroUsd: b.bigint('cost_micro_usd'),
      assetId: b.uuid('asset_id').references(() => assets.id, { onDelete: 'set null' }),
      error: b.json<{ message: string; type: string }>('error'),
      lockedBy: b.text('locked_by'),
      lockedUntil: b.ts('locked_until'),
      createdAt: createdAt(),
      updatedAt: updatedAt(),
      completedAt: b.ts('completed_at'),
    },
    (t) => [
      b.index('asset_jobs_user_id_created_at_idx').on(t.userId, t.createdAt),
      b.index('asset_jobs_status_locked_until_idx').on(t.status, t.lockedUntil),
      b.index('asset_jobs_request_hash_idx').on(t.requestHash),
    ],
  );

  const assetUsage = b.table(
    'asset_usage',
    {
      id: pk(),
      assetId: b
        .uuid('asset_id')
        .notNull()
        .references(() => assets.id, { onDelete: 'cascade' }),
      userId: b.uuid('user_id').references(() => users.id, { onDelete: 'set null' }),
      usageType: b.enumText('usage_type', ['download', 'preview', 'reuse']).notNull(),
      costMicroUsd: b.bigint('cost_micro_usd').notNull().default(0),
      createdAt: createdAt(),
    },
    (t) => [b.index('asset_usage_asset_id_created_at_idx').on(t.assetId, t.createdAt)],
  );

  // ── 2.5 RBAC and audit ───────────────────────────────────────────────────────────────────────────────

  const roles = b.table(
    'roles',
    {
      id: pk(),
      name: b.text('name').notNull(),
      displayName: b.text('display_name').notNull(),
      description: b.text('description'),
      roleType: b.enumText('role_type', ROLE_TYPES),
      isActive: b.bool('is_active').notNull().default(true),
      metadata: b.json<JsonObject>('metadata'),
      createdAt: createdAt(),
      updatedAt: updatedAt(),
    },
    (t) => [b.uniqueIndex('roles_name_unique').on(t.name)],
  );

  const permissions = b.table(
    'permissions',
    {
      id: pk(),
      resourceType: b.enumText('resource_type', RESOURCE_TYPES).notNull(),
      resourcePath: b.text('resource_path').notNull().default('*'),
      action: b.enumText('action', PERMISSION_ACTIONS).notNull(),
      description: b.text('description'),
      createdAt: createdAt(),
    },
    (t) => [
      b
        .uniqueIndex('permissions_resource_type_resource_path_action_unique')
        .on(t.resourceType, t.resourcePath, t.action),
    ],
  );

  const rolePermissions = b.table(
    'role_permissions',
    {
      roleId: b
        .uuid('role_id')
        .notNull()
        .references(() => roles.id, { onDelete: 'cascade' }),
      permissionId: b
        .uuid('permission_id')
        .notNull()
        .references(() => permissions.id, { onDelete: 'cascade' }),
      grantedAt: stamp('granted_at'),
      grantedBy: b.uuid('granted_by').references(() => users.id, { onDelete: 'set null' }),
    },
    (t) => [b.primaryKey({ name: 'role_permissions_pk', columns: [t.roleId, t.permissionId] })],
  );

  const userRoles = b.table(
    'user_roles',
    {
      userId: b
        .uuid('user_id')
        .notNull()
        .references(() => users.id, { onDelete: 'cascade' }),
      roleId: b
        .uuid('role_id')
        .notNull()
        .references(() => roles.id, { onDelete: 'cascade' }),
      contextType: b
        .enumText('context_type', ['global', 'team', 'workspace', 'resource'])
        .notNull()
        .default('global'),
      contextId: b.text('context_id').notNull().default('global'),
      assignedAt: stamp('assigned_at'),
      assignedBy: b.uuid('assigned_by').references(() => users.id, { onDelete: 'set null' }),
      expiresAt: b.ts('expires_at'),
    },
    (t) => [
      b.primaryKey({ name: 'user_roles_pk', columns: [t.userId, t.roleId, t.contextType, t.contextId] }),
      b.index('user_roles_user_id_idx').on(t.userId),
      b.index('user_roles_context_type_context_id_idx').on(t.contextType, t.contextId),
    ],
  );

  const teams = b.table(
    'teams',
    {
      id: pk(),
      name: b.text('name').notNull(),
      displayName: b.text('display_name').notNull(),
      description: b.text('description'),
      parentTeamId: b
        .uuid('parent_team_id')
        .references((): AnyPgColumn => teams.id, { onDelete: 'set null' }),
      metadata: b.json<JsonObject>('metadata'),
      isActive: b.bool('is_active').notNull().default(true),
      createdBy: b.uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
      createdAt: createdAt(),
      updatedAt: updatedAt(),
    },
    (t) => [b.uniqueIndex('teams_name_unique').on(t.name)],
  );

  const teamMembers = b.table(
    'team_members',
    {
      teamId: b
        .uuid('team_id')
        .notNull()
        .references(() => teams.id, { onDelete: 'cascade' }),
      userId: b
        .uuid('user_id')
        .notNull()
        .references(() => users.id, { onDelete: 'cascade' }),
      teamRole: b.enumText('team_role', ['owner', 'admin', 'member', 'viewer']).notNull().default('member'),
      joinedAt: stamp('joined_at'),
      invitedBy: b.uuid('invited_by').references(() => users.id, { onDelete: 'set null' }),
    },
    (t) => [
      b.primaryKey({ name: 'team_members_pk', columns: [t.teamId, t.userId] }),
      b.index('team_members_user_id_idx').on(t.userId),
    ],
  );

  const workspaces = b.table(
    'workspaces',
    {
      id: pk(),
      name: b.text('name').notNull(),
      displayName: b.text('display_name').notNull(),
      description: b.text('description'),
      workspaceType: b.enumText('workspace_type', ['project', 'incident', 'research']),
      status: b.enumText('status', ['active', 'archived', 'completed']).notNull().default('active'),
      metadata: b.json<JsonObject>('metadata'),
      createdBy: b.uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
      createdAt: createdAt(),
      updatedAt: updatedAt(),
      archivedAt: b.ts('archived_at'),
      expiresAt: b.ts('expires_at'),
    },
    (t) => [b.uniqueIndex('workspaces_name_unique').on(t.name)],
  );

  const workspaceMembers = b.table(
    'workspace_members',
    {
      workspaceId: b
        .uuid('workspace_id')
        .notNull()
        .references(() => workspaces.id, { onDelete: 'cascade' }),
      userId: b
        .uuid('user_id')
        .notNull()
        .references(() => users.id, { onDelete: 'cascade' }),
      joinedAt: stamp('joined_at'),
      invitedBy: b.uuid('invited_by').references(() => users.id, { onDelete: 'set null' }),
    },
    (t) => [
      b.primaryKey({ name: 'workspace_members_pk', columns: [t.workspaceId, t.userId] }),
      b.index('workspace_members_user_id_idx').on(t.userId),
    ],
  );

  const resourcePermissions = b.table(
    'resource_permissions',
    {
      id: pk(),
      resourceType: b.text('resource_type').notNull(),
      resourceId: b.text('resource_id').notNull(),
      principalType: b.enumText('principal_type', ['user', 'team', 'workspace']).notNull(),
      principalId: b.text('principal_id').notNull(),
      permissions: b.json<Array<'read' | 'write' | 'delete'>>('permissions').notNull().default([]),
      message: b.text('message'),
      grantedBy: b.uuid('granted_by').references(() => users.id, { onDelete: 'set null' }),
      createdAt: createdAt(),
      expiresAt: b.ts('expires_at'),
    },
    (t) => [
      b
        .uniqueIndex('resource_permissions_resource_principal_unique')
        .on(t.resourceType, t.resourceId, t.principalType, t.principalId),
      b.index('resource_permissions_principal_type_principal_id_idx').on(t.principalType, t.principalId),
    ],
  );

  const auditLog = b.table(
    'audit_log',
    {
      id: pk(),
      occurredAt: stamp('occurred_at'),
      actorType: b.enumText('actor_type', ['user', 'api_key', 'service', 'system']).notNull(),
      actorUserId: b.uuid('actor_user_id').references(() => users.id, { onDelete: 'set null' }),
      actorApiKeyId: b.uuid('actor_api_key_id'),
      eventType: b.text('event_type').notNull(),
      targetType: b.text('target_type'),
      targetId: b.text('target_id'),
      targetUserId: b.uuid('target_user_id').references(() => users.id, { onDelete: 'set null' }),
      details: b.json<JsonObject>('details'),
      requestId: b.text('request_id'),
    },
    (t) => [
      b.index('audit_log_actor_user_id_occurred_at_idx').on(t.actorUserId, t.occurredAt),
      b.index('audit_log_target_user_id_occurred_at_idx').on(t.targetUserId, t.occurredAt),
      b.index('audit_log_event_type_occurred_at_idx').on(t.eventType, t.occurredAt),
    ],
  );

  // Created by the migrator before any migration runs (migrate.ts); declared here so both dialects'
  // generated DDL and the comparison test cover it.
  const schemaMigrations = b.table('schema_migrations', {
    version: b.int('version').primaryKey(),
    name: b.text('name').notNull(),
    checksum: b.text('checksum').notNull(),
    appliedAt: stamp('applied_at'),
  });

  return {
    users,
    authSessions,
    refreshTokens,
    apiKeys,
    conversations,
    chatMessages,
    llmUsage,
    personas,
    userPersonaPreferences,
    assetSources,
    assets,
    assetJobs,
    assetUsage,
    roles,
    permissions,
    rolePermissions,
    userRoles,
    teams,
    teamMembers,
    workspaces,
    workspaceMembers,
    resourcePermissions,
    auditLog,
    schemaMigrations,
  };
}

export type Schema = ReturnType<typeof defineSchema>;
