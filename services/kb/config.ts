/**
 * The kb service's settings, read from the same environment as the rest of Gaia's configuration. The kb
 * service owns them: the kernel only hands over the environment and the data folder.
 */
import { join, resolve } from 'node:path';
import { type Config, Reader } from '../../src/config.ts';

export interface KbConfig {
  /** The Git working tree. */
  path: string;
  gitRepoUrl?: string;
  gitAuthToken?: string;
  gitBranch: string;
  autoClone: boolean;
  autoSync: boolean;
  /** Seconds between scheduled pulls; 0 turns the schedule off. */
  syncIntervalS: number;
  pushEnabled: boolean;
  webhookSecret?: string;
  committerName: string;
  committerEmail: string;
  maxFileBytes: number;
  mcpEnabled: boolean;
}

/** Reads and validates the kb section; a bad value throws a ConfigError naming the variable. */
export function readKbConfig(config: Pick<Config, 'source' | 'dataDir'>): KbConfig {
  const r = new Reader(config.source);
  return {
    path: resolve(r.strOr('KB_PATH', join(config.dataDir, 'kb'))),
    gitRepoUrl: r.str('KB_GIT_REPO_URL'),
    gitAuthToken: r.secret('KB_GIT_AUTH_TOKEN'),
    gitBranch: r.strOr('KB_GIT_BRANCH', 'main'),
    autoClone: r.bool('KB_GIT_AUTO_CLONE', true),
    autoSync: r.bool('KB_GIT_AUTO_SYNC', true),
    syncIntervalS: r.int('KB_SYNC_INTERVAL', 3600, 0),
    pushEnabled: r.bool('KB_PUSH_ENABLED', false),
    webhookSecret: r.secret('KB_GIT_WEBHOOK_SECRET'),
    committerName: r.strOr('KB_GIT_COMMITTER_NAME', 'KB Service'),
    committerEmail: r.strOr('KB_GIT_COMMITTER_EMAIL', 'kb@gaia.dev'),
    maxFileBytes: r.int('KB_MAX_FILE_BYTES', 10_485_760, 1),
    mcpEnabled: r.bool('KB_MCP_ENABLED', true),
  };
}
