/**
 * The chat model using the KB tools end to end: a scripted OpenAI fake asks for `search_knowledge_base` and
 * `read_kb_file`, chat runs them against the kb service with the chatting user's identity, and the answer
 * reports `route_type: "kb_tools"`. Another user's chat gets `Forbidden` for the same private file.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { dropTestDatabases, natsTestUrl, testBackends } from '../support/backends.ts';
import { type StackHandle, startStack } from '../support/stack.ts';

afterAll(async () => {
  await dropTestDatabases();
});

const post = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** The tool results chat sent back to the model in one completion request. */
function toolResults(body: { messages: Array<{ role: string; content: unknown }> }): string[] {
  return body.messages.filter((m) => m.role === 'tool').map((m) => String(m.content));
}

for (const backend of testBackends()) {
  describe(`kb tools in chat (${backend.name})`, () => {
    let s: StackHandle;
    let oa: FakeOpenAI;
    const idA = crypto.randomUUID();
    const idB = crypto.randomUUID();
    let jwtA: string;
    let jwtB: string;
    const secretPath = `users/${idA}/private/plans.md`;

    beforeAll(async () => {
      oa = await startFakeOpenAI();
      s = await startStack({
        databaseUrl: await backend.databaseUrl(),
        // PostgreSQL runs go with NATS, as a production deployment does.
        natsUrl: backend.name === 'postgresql' ? natsTestUrl() : undefined,
        env: { OPENAI_API_KEY: 'sk-kb-tools', OPENAI_BASE_URL: oa.url },
      });
      jwtA = await s.mintJwt({ sub: idA, email: `a-${idA.slice(0, 8)}@example.com` });
      jwtB = await s.mintJwt({ sub: idB, email: `b-${idB.slice(0, 8)}@example.com` });
      const w = await s.fetch(`/api/v1/kb/files/${secretPath}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${jwtA}`, 'content-type': 'application/json' },
        body: JSON.stringify({ content: '# Plans\nThe moonbase launches in spring.\n' }),
      });
      expect(w.status).toBe(201);
    });

    afterAll(async () => {
      await s?.stop();
      await oa?.stop();
    });

    const chatAs = (jwt: string, body: unknown) =>
      s.fetch('/api/v1/chat', {
        ...post(body),
        headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
      });

    test("the model searches and reads the caller's notes; the reply is labelled kb_tools", async () => {
      oa.reset();
      oa.enqueue(
        {
          toolCalls: [
            { name: 'search_knowledge_base', arguments: JSON.stringify({ query: 'moonbase', limit: 3 }) },
          ],
        },
        { toolCalls: [{ name: 'read_kb_file', arguments: JSON.stringify({ path: secretPath }) }] },
        { chunks: ['It launches in spring.'] },
      );
      const r = await chatAs(jwtA, { message: 'When does the moonbase launch?', model: 'gpt-4o-mini' });
      expect(r.status).toBe(200);
      const body = await r.json();
      expect(body._metadata.route_type).toBe('kb_tools');
      const calls = oa.completions;
      expect(calls.length).toBe(3);
      // The first request offered the KB tools.
      const offered = (calls[0]!.body.tools as Array<{ function: { name: string } }>).map(
        (t) => t.function.name,
      );
      expect(offered).toContain('search_knowledge_base');
      const search = JSON.parse(toolResults(calls[1]!.body).at(-1)!);
      expect(search.total).toBe(1);
      expect(search.limit).toBe(3);
      expect(search.results[0].path).toBe(secretPath);
      const read = JSON.parse(toolResults(calls[2]!.body).at(-1)!);
      expect(read.path).toBe(secretPath);
      expect(read.content).toContain('moonbase launches in spring');
    });

    test("#29 another user's chat gets Forbidden for the private file and the chat continues (streamed)", async () => {
      oa.reset();
      oa.enqueue(
        { toolCalls: [{ name: 'read_kb_file', arguments: JSON.stringify({ path: secretPath }) }] },
        { chunks: ['I cannot see that file.'] },
      );
      const r = await chatAs(jwtB, { message: 'Read the plans', model: 'gpt-4o-mini', stream: true });
      expect(r.status).toBe(200);
      const text = await r.text();
      expect(text).toContain('I cannot see that file.');
      expect(text).toContain('kb_tools');
      const result = JSON.parse(toolResults(oa.completions[1]!.body).at(-1)!);
      expect(result).toEqual({ error: `Forbidden: no read access to ${secretPath}` });
      expect(JSON.stringify(oa.completions.map((c) => c.body))).not.toContain('moonbase launches');
    });
  });
}
