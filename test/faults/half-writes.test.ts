/**
 * A chat turn's writes land together or not at all. The database refuses one statement of a write (a trigger
 * stands in for a constraint, a full disk or a connection lost mid-way): the client gets an error and the
 * statements before the refused one are not left behind. On SQLite and on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import { dropTestDatabases, testBackends } from '../support/backends.ts';
import { type StackHandle, startStack } from '../support/stack.ts';

afterAll(dropTestDatabases);

const REFUSED = 'refuse this message';

for (const backend of testBackends()) {
  describe(`half-written chat turns (${backend.name})`, () => {
    let s: StackHandle;

    beforeAll(async () => {
      s = await startStack({ databaseUrl: await backend.databaseUrl() });
      const db = s.stack.db;
      if (db.kind === 'sqlite')
        await db.all(
          sql.raw(`CREATE TRIGGER refuse_message BEFORE INSERT ON chat_messages WHEN NEW.content = '${REFUSED}'
                   BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`),
        );
      else {
        await db.all(
          sql.raw(`CREATE FUNCTION refuse_message() RETURNS trigger AS $$
                   BEGIN IF NEW.content = '${REFUSED}' THEN RAISE EXCEPTION 'refused by the test'; END IF;
                   RETURN NEW; END $$ LANGUAGE plpgsql`),
        );
        await db.all(
          sql.raw(
            'CREATE TRIGGER refuse_message BEFORE INSERT ON chat_messages FOR EACH ROW EXECUTE FUNCTION refuse_message()',
          ),
        );
      }
    });
    afterAll(async () => {
      await s?.stop();
    });

    const conversationCount = async () => {
      const t = s.stack.db.t.conversations;
      const rows = await s.stack.db.orm.select({ id: t.id }).from(t);
      return rows.length;
    };

    test('a new conversation whose first message is refused is not created', async () => {
      const before = await conversationCount();
      const listed = async () =>
        ((await (await s.dev('/api/v1/conversations')).json()) as { conversations: Array<{ id: string }> })
          .conversations;
      const shown = await listed();
      for (const body of [
        { message: REFUSED, model: 'gaia-local' },
        { message: REFUSED, model: 'gaia-local', stream: true },
      ]) {
        const res = await s.dev('/api/v1/chat', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        expect(res.status).toBe(500);
        expect(await res.json()).toEqual({ detail: 'Internal server error' });
      }
      expect(await conversationCount()).toBe(before);
      expect(await listed()).toEqual(shown);
      // The next turn is stored whole.
      const ok = await s.dev('/api/v1/chat', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'a message the database takes', model: 'gaia-local' }),
      });
      expect(ok.status).toBe(200);
      expect(await conversationCount()).toBe(before + 1);
    });
  });
}
