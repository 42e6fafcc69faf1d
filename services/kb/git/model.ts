/**
 * What `GET /api/v1/kb/sync/status` answers, as TypeBox schemas with the types derived from them: the Git
 * layer builds its status against these types, so the API reference cannot describe a field it lost.
 * Kept apart from the Git layer so the gateway's API reference can read it without loading isomorphic-git.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { t } from 'elysia';
import { Integer } from '../../../src/http/schemas.ts';

const Nullable = <S extends TSchema>(schema: S, description?: string) =>
  t.Union([schema, t.Null()], description ? { description } : {});
const Sha = (description: string) => Nullable(t.String(), description);

const TRIGGERS = ['startup', 'schedule', 'webhook', 'manual', 'commit'] as const;
const Trigger = t.Union(
  TRIGGERS.map((x) => t.Literal(x)),
  { description: '`commit`: caused by writes (a coalesced push, or the pull after a rejected push)' },
);

export type PullTrigger = Exclude<SyncTrigger, 'commit'>;
export type SyncTrigger = (typeof TRIGGERS)[number];

const SYNC_STATES = ['initialising', 'idle', 'pulling', 'pushing', 'error'] as const;
export type SyncState = (typeof SYNC_STATES)[number];

export const PullRecordSchema = t.Object({
  at: t.String(),
  trigger: Trigger,
  result: t.Union([t.Literal('ok'), t.Literal('conflicts'), t.Literal('error')]),
  from: Sha('Local head before the pull'),
  to: Sha('Local head after the pull'),
  changed: Integer({ description: 'Files the pull changed' }),
  error: t.Optional(t.String()),
});
export type PullRecord = Static<typeof PullRecordSchema>;

export const PushRecordSchema = t.Object({
  at: t.String(),
  trigger: Trigger,
  result: t.Union([t.Literal('ok'), t.Literal('error')]),
  from: Sha('The remote-tracking head before the push'),
  to: Sha('The head pushed'),
  error: t.Optional(t.String()),
  retry_at: t.Optional(t.String({ description: 'When the next automatic attempt runs after a failure' })),
});
export type PushRecord = Static<typeof PushRecordSchema>;

export const ConflictRecordSchema = t.Object({
  path: t.String({ description: 'The file both sides changed; it keeps the local content' }),
  copy: t.String({ description: "Where the remote's version was written beside it" }),
  at: t.String(),
});
export type ConflictRecord = Static<typeof ConflictRecordSchema>;

export const SyncStatusSchema = t.Object({
  remote: Nullable(t.String(), 'The remote URL without credentials; null when there is none'),
  branch: t.String(),
  state: t.Union(SYNC_STATES.map((x) => t.Literal(x))),
  head: Sha('Local head commit'),
  remote_head: Sha("The remote branch's last known head"),
  ahead: Integer(),
  behind: Integer(),
  push_enabled: t.Boolean(),
  next_pull_at: Nullable(t.String()),
  last_pull: Nullable(PullRecordSchema),
  last_push: Nullable(PushRecordSchema),
  conflicts: t.Array(ConflictRecordSchema),
  error: t.Optional(t.String({ description: 'Present in the `error` state' })),
});
export type SyncStatus = Static<typeof SyncStatusSchema>;
