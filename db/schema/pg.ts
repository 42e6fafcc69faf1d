/** The PostgreSQL tables. drizzle-kit reads the named exports (drizzle.pg.config.ts). */
import { pgBuilder } from './builders.ts';
import { defineSchema } from './define.ts';

export const pgSchema = defineSchema(pgBuilder);

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
} = pgSchema;
