/** Request bodies and answers of the routes existing clients of the Python platform call. */
import { t } from 'elysia';

/** Read-style routes take the chat request shape: `message` carries the argument (query, path, name). */
export const MessageBody = t.Object({ message: t.String() });
export const WriteBody = t.Object({
  path: t.String(),
  content: t.String(),
  message: t.String({ minLength: 1, maxLength: 1000 }),
  validate_content: t.Optional(t.Boolean()),
});
export const DeleteBody = t.Object({
  path: t.String(),
  message: t.String({ minLength: 1, maxLength: 1000 }),
});
export const MoveBody = t.Object({
  old_path: t.String(),
  new_path: t.String(),
  message: t.String({ minLength: 1, maxLength: 1000 }),
});

/** Read-style answers: rendered markdown for a chat client to show, plus a few facts about it. */
export const RenderedAnswer = t.Object({
  status: t.Literal('success'),
  response: t.String({ description: 'Markdown' }),
  metadata: t.Record(t.String(), t.Unknown()),
});

export const WriteAnswer = t.Object({
  success: t.Boolean(),
  action: t.Optional(t.String()),
  path: t.String(),
  commit_hash: t.Optional(t.String({ description: 'Short hash of the commit made' })),
  message: t.String(),
  warnings: t.Optional(t.Array(t.Unknown())),
});

export const DeleteAnswer = t.Object({
  success: t.Boolean(),
  action: t.Literal('delete'),
  path: t.String(),
  commit_hash: t.String(),
  message: t.String(),
});

export const MoveAnswer = t.Object({
  success: t.Boolean(),
  action: t.Literal('move'),
  old_path: t.String(),
  new_path: t.String(),
  commit_hash: t.String(),
  message: t.String(),
});
