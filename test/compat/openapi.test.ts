/**
 * `/openapi.json` shows real schemas, and they match what the stack answers: every documented body method
 * has a request schema, every operation a success answer with a schema, and a set of real calls through
 * the all-in-one stack validates against the documented answer, so the reference cannot drift from reality.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { openApiDocument } from '../../services/gateway/docs/index.ts';
import { ROUTE_DOCS } from '../../services/gateway/docs/routes.ts';
import { GATEWAY_ROUTES, PROXY_ROUTES } from '../../services/gateway/routes.ts';
import { createKbApp } from '../../services/kb/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { type StackHandle, startStack } from '../support/stack.ts';

type Op = Record<string, any>;

function operations(doc: Record<string, any>): Array<[string, string, Op]> {
  const out: Array<[string, string, Op]> = [];
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, Op>>))
    for (const [method, op] of Object.entries(ops)) out.push([method.toUpperCase(), path, op]);
  return out;
}

describe('the OpenAPI document', () => {
  const doc = openApiDocument();

  test('is OpenAPI 3.1 and survives a JSON round trip unchanged', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });

  test('every route of the route table has schemas behind it', () => {
    const missing = [
      ...GATEWAY_ROUTES.map((r) => `${r.method} ${r.path}`),
      ...PROXY_ROUTES.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`),
    ].filter((key) => !ROUTE_DOCS[key]);
    expect(missing).toEqual([]);
    // The catch-all's family is listed one route at a time.
    const kbApi = operations(doc).filter(([, p]) => p.startsWith('/api/v1/kb/') && !p.includes('/mcp'));
    expect(kbApi.length).toBeGreaterThan(5);
  });

  test('every route the KB app serves is in the document, and every documented KB route is served', () => {
    // The KB's JSON API reaches the gateway through one catch-all, so nothing but this check notices a
    // route added to the KB app and never described. Building the app only wires routes: the database
    // and the bus are not touched until a request arrives, so stand-ins do.
    const dataDir = mkdtempSync(join(tmpdir(), 'gaia-kb-routes-'));
    try {
      const config = loadConfig({ GAIA_ENV: 'test', GAIA_DATA_DIR: dataDir });
      const log = createLogger({ service: 'kb', level: 'error', json: true, sink: () => {} });
      const { app } = createKbApp({ config, log, db: {} as any, bus: {} as any, clients: {} });
      const served = app.routes.filter((r) => r.path.startsWith('/api/')).map((r) => `${r.method} ${r.path}`);
      expect(served.filter((k) => k.includes(' /api/v1/kb/')).length).toBeGreaterThan(30);
      const paths = doc.paths as Record<string, Record<string, Op>>;
      const undocumented = served.filter((key) => {
        const [method] = key.split(' ') as [string];
        return !ROUTE_DOCS[key] || !paths[toPath(key)]?.[method.toLowerCase()];
      });
      expect(undocumented).toEqual([]);
      // The webhook and MCP endpoints are answered before the Elysia app sees the request (app.ts).
      const beforeApp = new Set(['/api/v1/kb/sync/webhook', '/api/v1/kb/mcp']);
      const stale = Object.keys(ROUTE_DOCS).filter(
        (key) => key.includes(' /api/v1/kb/') && !served.includes(key) && !beforeApp.has(key.split(' ')[1]!),
      );
      expect(stale).toEqual([]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('every body method has a real request schema', () => {
    const bare: string[] = [];
    for (const [method, path, op] of operations(doc)) {
      if (!['POST', 'PUT', 'PATCH'].includes(method)) continue;
      const schema = op.requestBody?.content?.['application/json']?.schema;
      // Routes that take no body at all (logout, threads, reload-prompt…) document none.
      const key = Object.keys(ROUTE_DOCS).find((k) => k.startsWith(`${method} `) && toPath(k) === path);
      if (!schema) {
        if (key && ROUTE_DOCS[key]!.body) bare.push(`${method} ${path}: body not printed`);
        continue;
      }
      const props =
        schema.properties ?? schema.anyOf ?? schema.additionalProperties ?? schema.patternProperties;
      if (schema.type === 'object' && !props) bare.push(`${method} ${path}`);
    }
    expect(bare).toEqual([]);
  });

  test('every operation has a success answer with a schema (JSON, events or bytes)', () => {
    const without: string[] = [];
    for (const [method, path, op] of operations(doc)) {
      const codes = Object.keys(op.responses);
      if (codes.includes('204')) continue;
      const ok = codes.filter((c) => /^2\d\d$/.test(c));
      // Routes that only ever refuse (the stateless MCP endpoint's GET and DELETE) document that refusal.
      if (ok.length === 0 && codes.includes('405') && op.responses['405'].content) continue;
      const content = ok.map((c) => op.responses[c].content ?? {});
      const has = content.some(
        (c) =>
          c['application/json']?.schema ||
          c['text/event-stream']?.schema?.description ||
          Object.values(c).some((m: any) => m.schema?.format === 'binary'),
      );
      if (!has) without.push(`${method} ${path}`);
      // Errors are documented with their envelope.
      expect(op.responses['4XX']?.content?.['application/json']?.schema).toBeTruthy();
    }
    expect(without).toEqual([]);
  });

  test('streaming chat routes document their events', () => {
    const paths = doc.paths as Record<string, Record<string, Op>>;
    for (const p of ['/api/v1/chat', '/api/v0.3/chat', '/api/v0.2/chat/stream', '/v1/chat/completions']) {
      const events = paths[p]!.post!.responses['200'].content['text/event-stream'];
      expect(events.schema.description).toContain('data:');
    }
  });

  test('query parameters are documented where routes take them', () => {
    const paths = doc.paths as Record<string, Record<string, Op>>;
    const names = (p: string) => (paths[p]!.get!.parameters ?? []).map((x: any) => x.name);
    expect(names('/api/v1/conversations')).toEqual(['limit', 'offset', 'q']);
    expect(names('/api/v1/assets')).toContain('category');
    expect(names('/api/v1/conversations/{conversation_id}/messages')).toEqual([
      'conversation_id',
      'limit',
      'offset',
    ]);
  });
});

function toPath(key: string): string {
  return key
    .slice(key.indexOf(' ') + 1)
    .replace(/:([A-Za-z_]+)/g, '{$1}')
    .replace(/\/\*$/, '/{path}');
}

describe('real answers match the documented schemas', () => {
  let s: StackHandle;

  beforeAll(async () => {
    s = await startStack({ env: { LOCAL_LLM_ENABLED: 'true', LOCAL_LLM_DELAY_MS: '1' } });
  });
  afterAll(async () => {
    await s?.stop();
  });

  /** The documented schema of one answer: the route's success schema, or its error envelope. */
  function schemaOf(key: string, status: number): TSchema {
    const d = ROUTE_DOCS[key];
    if (!d) throw new Error(`no docs for ${key}`);
    if (status === (d.status ?? 200) && d.response) return d.response;
    if (d.also?.[status]) return d.also[status]!.schema;
    throw new Error(`${key} answered ${status}, which is not documented as a success`);
  }

  async function check(key: string, res: Response, expectStatus: number, errorSchema?: TSchema) {
    const text = await res.text();
    expect({ key, status: res.status, text: res.status === expectStatus ? '' : text }).toEqual({
      key,
      status: expectStatus,
      text: '',
    });
    expect(res.headers.get('content-type')).toStartWith('application/json');
    const body = JSON.parse(text);
    const schema = errorSchema ?? schemaOf(key, res.status);
    const errors = [...Value.Errors(schema, body)].map((e) => `${e.path}: ${e.message}`);
    expect({ key, errors }).toEqual({ key, errors: [] });
    return body;
  }

  const json = (method: string, body?: unknown, headers: Record<string, string> = {}): RequestInit => ({
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

  test('auth: register, login, refresh, user, api keys, validate, logout', async () => {
    const email = `docs-${crypto.randomUUID()}@example.com`;
    const password = 'a long enough password';
    await check(
      'POST /api/v1/auth/register',
      await s.fetch('/api/v1/auth/register', json('POST', { email, password })),
      200,
    );
    const login = await check(
      'POST /api/v0.3/auth/login',
      await s.fetch('/api/v0.3/auth/login', json('POST', { email, password })),
      200,
    );
    const refreshed = await check(
      'POST /api/v1/auth/refresh',
      await s.fetch('/api/v1/auth/refresh', json('POST', { refresh_token: login.session.refresh_token })),
      200,
    );
    const bearer = { authorization: `Bearer ${refreshed.session.access_token}` };
    await check('GET /api/v1/auth/user', await s.fetch('/api/v1/auth/user', { headers: bearer }), 200);
    await check(
      'PATCH /api/v1/auth/user',
      await s.fetch('/api/v1/auth/user', json('PATCH', { name: 'Docs' }, bearer)),
      200,
    );
    const key = await check(
      'POST /api/v1/auth/api-keys',
      await s.fetch('/api/v1/auth/api-keys', json('POST', { name: 'docs', expires_in_days: 7 }, bearer)),
      201,
    );
    await check(
      'GET /api/v1/auth/api-keys',
      await s.fetch('/api/v1/auth/api-keys', { headers: bearer }),
      200,
    );
    await check(
      'POST /api/v1/auth/api-key-login',
      await s.fetch('/api/v1/auth/api-key-login', { method: 'POST', headers: { 'x-api-key': key.key } }),
      200,
    );
    await check(
      'POST /api/v1/auth/validate',
      await s.fetch('/api/v1/auth/validate', json('POST', { token: refreshed.session.access_token })),
      200,
    );
    await check('POST /api/v1/auth/validate', await s.fetch('/api/v1/auth/validate', json('POST', {})), 200);
    await check(
      'POST /api/v1/auth/logout',
      await s.fetch('/api/v1/auth/logout', { method: 'POST', headers: bearer }),
      200,
    );
  });

  test('auth errors use the documented envelope', async () => {
    const d = ROUTE_DOCS['POST /api/v1/auth/login']!;
    expect(d.errors).toBeUndefined();
    const { ErrorBody } = await import('../../src/http/schemas.ts');
    await check(
      'POST /api/v1/auth/login',
      await s.fetch(
        '/api/v1/auth/login',
        json('POST', { email: 'nobody@example.com', password: 'wrong password' }),
      ),
      400,
      ErrorBody,
    );
    await check(
      'POST /api/v1/auth/login',
      await s.fetch('/api/v1/auth/login', json('POST', { email: 'x@example.com' })),
      422,
      ErrorBody,
    );
  });

  test('chat: unified (both shapes), v0.3, v0.2, legacy, OpenAI-compatible', async () => {
    const one = await check(
      'POST /api/v1/chat',
      await s.dev('/api/v1/chat', json('POST', { message: 'hi' })),
      200,
    );
    expect(one.object).toBe('chat.completion');
    const clean = await check(
      'POST /api/v1/chat',
      await s.dev('/api/v1/chat', json('POST', { message: 'hi' }, { 'x-response-format': 'v0.3' })),
      200,
    );
    expect(clean.response).toBeString();
    await check(
      'POST /api/v0.3/chat',
      await s.dev('/api/v0.3/chat', json('POST', { message: 'hello' })),
      200,
    );
    await check(
      'POST /api/v0.2/chat',
      await s.dev('/api/v0.2/chat', json('POST', { message: 'hello' })),
      200,
    );
    await check(
      'POST /api/v1/chat/completions',
      await s.dev('/api/v1/chat/completions', json('POST', { message: 'hello' })),
      200,
    );
    await check(
      'POST /api/v1/chat/direct',
      await s.dev('/api/v1/chat/direct', json('POST', { message: 'hello' })),
      200,
    );
    const models = await check('GET /v1/models', await s.dev('/v1/models'), 200);
    const model = models.data[0].id;
    await check('GET /v1/models/:model', await s.dev(`/v1/models/${model}`), 200);
    await check(
      'POST /v1/chat/completions',
      await s.dev(
        '/v1/chat/completions',
        json('POST', { model, messages: [{ role: 'user', content: 'hi' }] }),
      ),
      200,
    );
    const { OpenAiErrorBody, CleanErrorBody } = await import('../../src/http/schemas.ts');
    await check(
      'POST /v1/chat/completions',
      await s.dev('/v1/chat/completions', json('POST', { messages: [] })),
      400,
      OpenAiErrorBody,
    );
    await check('POST /api/v0.3/chat', await s.dev('/api/v0.3/chat', json('POST', {})), 400, CleanErrorBody);
  });

  test('chat: streams are event streams', async () => {
    const res = await s.dev('/api/v0.3/chat', json('POST', { message: 'hi', stream: true }));
    expect(res.headers.get('content-type')).toStartWith('text/event-stream');
    expect(await res.text()).toContain('data: [DONE]');
  });

  test('chat: conversations, personas, models, providers, tools, usage, status', async () => {
    const conv = await check(
      'POST /api/v1/conversations',
      await s.dev('/api/v1/conversations', json('POST', { title: 'Docs' })),
      201,
    );
    await s.dev(
      `/api/v1/chat?conversation_id=${conv.id}`,
      json('POST', { message: 'hi', conversation_id: conv.id }),
    );
    await check('GET /api/v1/conversations', await s.dev('/api/v1/conversations?limit=5&offset=0'), 200);
    await check('GET /api/v1/conversations/stats', await s.dev('/api/v1/conversations/stats'), 200);
    await check(
      'GET /api/v1/conversations/:conversation_id',
      await s.dev(`/api/v1/conversations/${conv.id}`),
      200,
    );
    const msgs = await check(
      'GET /api/v1/conversations/:conversation_id/messages',
      await s.dev(`/api/v1/conversations/${conv.id}/messages`),
      200,
    );
    expect(msgs.messages.length).toBeGreaterThan(0);
    await check(
      'PUT /api/v1/conversations/:conversation_id',
      await s.dev(`/api/v1/conversations/${conv.id}`, json('PUT', { title: 'Renamed' })),
      200,
    );
    await check('GET /api/v0.3/conversations', await s.dev('/api/v0.3/conversations'), 200);
    await check(
      'POST /api/v0.3/conversations',
      await s.dev('/api/v0.3/conversations', json('POST', {})),
      201,
    );
    await check('GET /api/v0.2/personas', await s.dev('/api/v0.2/personas'), 200);
    await check('GET /api/v1/chat/personas', await s.dev('/api/v1/chat/personas'), 200);
    await check('GET /api/v0.2/personas/current', await s.dev('/api/v0.2/personas/current'), 200);
    const created = await check(
      'POST /api/v0.2/personas',
      await s.dev(
        '/api/v0.2/personas',
        json('POST', { name: 'Docs', system_prompt: 'Be brief.', tools: [] }),
      ),
      200,
    );
    const pid = created.persona.id;
    await check('GET /api/v0.2/personas/:persona_id', await s.dev(`/api/v0.2/personas/${pid}`), 200);
    await check(
      'PUT /api/v0.2/personas/:persona_id',
      await s.dev(`/api/v0.2/personas/${pid}`, json('PUT', { description: 'Docs persona' })),
      200,
    );
    await check(
      'POST /api/v0.2/personas/set',
      await s.dev('/api/v0.2/personas/set', json('POST', { persona_id: pid })),
      200,
    );
    await check(
      'DELETE /api/v0.2/personas/:persona_id',
      await s.dev(`/api/v0.2/personas/${pid}`, { method: 'DELETE' }),
      200,
    );
    await check(
      'POST /api/v0.2/personas/initialize-default',
      await s.dev('/api/v0.2/personas/initialize-default', { method: 'POST' }),
      200,
    );
    await check('GET /api/v1/models', await s.dev('/api/v1/models'), 200);
    const models = await check('GET /api/v0.2/models', await s.dev('/api/v0.2/models'), 200);
    await check(
      'GET /api/v0.2/models/:model_id',
      await s.dev(`/api/v0.2/models/${models.models[0].id}`),
      200,
    );
    const providers = await check('GET /api/v0.2/providers', await s.dev('/api/v0.2/providers'), 200);
    const p = providers.providers[0].id;
    await check('GET /api/v0.2/providers/:provider', await s.dev(`/api/v0.2/providers/${p}`), 200);
    await check(
      'GET /api/v0.2/providers/:provider/models',
      await s.dev(`/api/v0.2/providers/${p}/models`),
      200,
    );
    await check(
      'GET /api/v0.2/providers/:provider/health',
      await s.dev(`/api/v0.2/providers/${p}/health`),
      200,
    );
    await check('GET /api/v1/chat/tools', await s.dev('/api/v1/chat/tools'), 200);
    await check('GET /api/v1/chat/usage', await s.dev('/api/v1/chat/usage?days=7'), 200);
    await check('GET /api/v1/chat/status', await s.dev('/api/v1/chat/status'), 200);
    await check('GET /api/v0.2/chat/status', await s.dev('/api/v0.2/chat/status'), 200);
    await check(
      'DELETE /api/v0.2/chat/history',
      await s.dev('/api/v0.2/chat/history', { method: 'DELETE' }),
      200,
    );
    await check(
      'POST /api/v1/chat/reload-prompt',
      await s.dev('/api/v1/chat/reload-prompt', { method: 'POST' }),
      200,
    );
  });

  test('assets: pricing, estimates, generation, listing', async () => {
    for (const v of [
      'analytics',
      'providers',
      'cost-estimator/dalle-tiers',
      'cost-estimator/meshy-packages',
    ]) {
      await check(`GET /api/v0.2/assets/pricing/${v}`, await s.dev(`/api/v0.2/assets/pricing/${v}`), 200);
    }
    await check(
      'GET /api/v0.2/assets/pricing/cost-estimator/provider-comparison',
      await s.dev('/api/v0.2/assets/pricing/cost-estimator/provider-comparison'),
      200,
    );
    await check(
      'POST /api/v0.2/assets/pricing/cost-estimator/estimate',
      await s.dev('/api/v0.2/assets/pricing/cost-estimator/estimate', json('POST', { provider: 'dalle' })),
      200,
    );
    const made = await check(
      'POST /api/v1/assets/generate',
      await s.dev(
        '/api/v1/assets/generate',
        json('POST', { category: 'image', style: 'flat', description: 'a cat' }),
      ),
      200,
    );
    await check('GET /api/v1/assets/:asset_id', await s.dev(`/api/v1/assets/${made.asset_id}`), 200);
    await check('GET /api/v1/assets', await s.dev('/api/v1/assets?limit=5'), 200);
    await check('GET /api/v1/assets/jobs', await s.dev('/api/v1/assets/jobs'), 200);
    await check('GET /api/v1/assets/test', await s.dev('/api/v1/assets/test'), 200);
    const file = await s.fetch(
      new URL(made.asset_data.download_url).pathname + new URL(made.asset_data.download_url).search,
    );
    expect(file.status).toBe(200);
    await file.arrayBuffer();
  });

  test('knowledge base: write, read, list, search, git status, health', async () => {
    await check(
      'POST /api/v0.2/kb/write',
      await s.dev(
        '/api/v0.2/kb/write',
        json('POST', { path: 'shared/docs.md', content: '# Docs\nhello', message: 'add' }),
      ),
      200,
    );
    await check(
      'POST /api/v0.2/kb/read',
      await s.dev('/api/v0.2/kb/read', json('POST', { message: 'shared/docs.md' })),
      200,
    );
    await check(
      'POST /api/v0.2/kb/list',
      await s.dev('/api/v0.2/kb/list', json('POST', { message: '/' })),
      200,
    );
    await check(
      'POST /api/v0.2/kb/search',
      await s.dev('/api/v0.2/kb/search', json('POST', { message: 'hello' })),
      200,
    );
    await check(
      'POST /api/v0.2/kb/move',
      await s.dev(
        '/api/v0.2/kb/move',
        json('POST', { old_path: 'shared/docs.md', new_path: 'shared/moved.md', message: 'mv' }),
      ),
      200,
    );
    await check('GET /api/v0.2/kb/git/status', await s.dev('/api/v0.2/kb/git/status'), 200);
    await check('GET /api/v0.2/kb/health', await s.dev('/api/v0.2/kb/health'), 200);
    await check('GET /api/v0.2/kb/cache/stats', await s.dev('/api/v0.2/kb/cache/stats'), 200);
    await check('GET /api/v1/kb/me', await s.dev('/api/v1/kb/me'), 200);
    await check('GET /api/v1/kb/list', await s.dev('/api/v1/kb/list?path=shared'), 200);
    await check('GET /api/v1/kb/files/*', await s.dev('/api/v1/kb/files/shared/moved.md'), 200);
    await check('GET /api/v1/kb/search', await s.dev('/api/v1/kb/search?q=hello'), 200);
    await check('GET /api/v1/kb/navigate', await s.dev('/api/v1/kb/navigate?depth=2'), 200);
    await check('GET /api/v1/kb/history', await s.dev('/api/v1/kb/history?limit=5'), 200);
    await check('GET /api/v1/kb/threads', await s.dev('/api/v1/kb/threads'), 200);
    await check(
      'POST /api/v1/kb/move',
      await s.dev('/api/v1/kb/move', json('POST', { from: 'shared/moved.md', to: 'shared/again.md' })),
      200,
    );
    await check(
      'POST /api/v1/kb/move',
      await s.dev('/api/v1/kb/move', json('POST', { from: 'shared/again.md', to: 'shared/moved.md' })),
      200,
    );
    await check(
      'DELETE /api/v0.2/kb/delete',
      await s.dev('/api/v0.2/kb/delete', json('DELETE', { path: 'shared/moved.md', message: 'rm' })),
      200,
    );
  });

  test('knowledge base: teams, workspaces, shares, sync status', async () => {
    const email = `kb-docs-${crypto.randomUUID()}@example.com`;
    await check(
      'POST /api/v1/auth/register',
      await s.fetch('/api/v1/auth/register', json('POST', { email, password: 'a long enough password' })),
      200,
    );
    const gone = async (path: string) => {
      const res = await s.dev(path, { method: 'DELETE' });
      expect({ path, status: res.status, text: await res.text() }).toEqual({ path, status: 204, text: '' });
    };

    const team = await check(
      'POST /api/v1/kb/teams',
      await s.dev(
        '/api/v1/kb/teams',
        json('POST', { name: 'docs-team', display_name: 'Docs', description: 'Writes the docs' }),
      ),
      201,
    );
    expect(team.my_role).toBe('owner');
    await check(
      'POST /api/v1/kb/teams',
      await s.dev('/api/v1/kb/teams', json('POST', { name: 'docs-sub', parent_team: 'docs-team' })),
      201,
    );
    const teams = await check('GET /api/v1/kb/teams', await s.dev('/api/v1/kb/teams'), 200);
    expect(teams.teams.map((x: { name: string }) => x.name)).toContain('docs-team');
    await check('GET /api/v1/kb/teams', await s.dev('/api/v1/kb/teams?all=true'), 200);
    await check(
      'PATCH /api/v1/kb/teams/:name',
      await s.dev('/api/v1/kb/teams/docs-team', json('PATCH', { description: null })),
      200,
    );
    await check(
      'POST /api/v1/kb/teams/:name/members',
      await s.dev('/api/v1/kb/teams/docs-team/members', json('POST', { user: email, role: 'viewer' })),
      201,
    );
    await check(
      'PATCH /api/v1/kb/teams/:name/members/:user',
      await s.dev(
        `/api/v1/kb/teams/docs-team/members/${encodeURIComponent(email)}`,
        json('PATCH', { role: 'member' }),
      ),
      200,
    );
    const one = await check('GET /api/v1/kb/teams/:name', await s.dev('/api/v1/kb/teams/docs-team'), 200);
    expect(one.members).toHaveLength(2);

    const ws = await check(
      'POST /api/v1/kb/workspaces',
      await s.dev(
        '/api/v1/kb/workspaces',
        json('POST', {
          name: 'docs-ws',
          workspace_type: 'research',
          initial_members: [email],
          expires_at: new Date(Date.now() + 86_400_000).toISOString(),
        }),
      ),
      201,
    );
    expect(ws.members).toHaveLength(2);
    await check('GET /api/v1/kb/workspaces', await s.dev('/api/v1/kb/workspaces'), 200);
    await check('GET /api/v1/kb/workspaces/:name', await s.dev('/api/v1/kb/workspaces/docs-ws'), 200);
    await check(
      'PATCH /api/v1/kb/workspaces/:name',
      await s.dev('/api/v1/kb/workspaces/docs-ws', json('PATCH', { status: 'archived' })),
      200,
    );
    await gone(`/api/v1/kb/workspaces/docs-ws/members/${encodeURIComponent(email)}`);
    await check(
      'POST /api/v1/kb/workspaces/:name/members',
      await s.dev('/api/v1/kb/workspaces/docs-ws/members', json('POST', { user: email })),
      201,
    );

    const shared = await check(
      'POST /api/v1/kb/shares',
      await s.dev(
        '/api/v1/kb/shares',
        json('POST', {
          path: 'teams/docs-team/standards',
          teams: ['docs-sub'],
          workspaces: ['docs-ws'],
          permissions: ['read', 'write'],
          message: 'for the docs',
        }),
      ),
      201,
    );
    expect(shared.shares).toHaveLength(2);
    await check(
      'POST /api/v1/kb/share',
      await s.dev('/api/v1/kb/share', json('POST', { path: 'teams/docs-team', recipients: [email] })),
      201,
    );
    const granted = await check(
      'GET /api/v1/kb/shares',
      await s.dev('/api/v1/kb/shares?direction=granted&path=teams/docs-team'),
      200,
    );
    expect(granted.shares.length).toBe(3);
    await check('GET /api/v1/kb/shares', await s.dev('/api/v1/kb/shares'), 200);
    await gone(`/api/v1/kb/shares/${shared.shares[0].id}`);
    await gone(`/api/v1/kb/teams/docs-team/members/${encodeURIComponent(email)}`);
    await gone('/api/v1/kb/teams/docs-sub');

    await check('GET /api/v1/kb/access', await s.dev('/api/v1/kb/access?path=teams/docs-team'), 200);
    await check('GET /api/v1/kb/sync/status', await s.dev('/api/v1/kb/sync/status'), 200);
  });

  test('gateway: banner, health, calculator, the document itself', async () => {
    await check('GET /', await s.fetch('/'), 200);
    await check('GET /health', await s.fetch('/health'), 200);
    await check('GET /health/live', await s.fetch('/health/live'), 200);
    await check('GET /health/ready', await s.fetch('/health/ready'), 200);
    await check('GET /api/v0.2', await s.fetch('/api/v0.2'), 200);
    await check('GET /api/v0.2/health', await s.fetch('/api/v0.2/health'), 200);
    await check('POST /calculator/add', await s.dev('/calculator/add', json('POST', { a: 1, b: 2 })), 200);
    const served = await check('GET /openapi.json', await s.fetch('/openapi.json'), 200);
    expect(served).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });
});
