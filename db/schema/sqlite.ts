/**
 * The SQLite tables, typed as the PostgreSQL ones (builders.ts). drizzle-kit reads the named exports
 * (drizzle.sqlite.config.ts).
 */
import { sqliteBuilder } from './builders.ts';
import { defineSchema } from './define.ts';

export const sqliteSchema = defineSchema(sqliteBuilder);

export const {
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
} = sqliteSchema;
