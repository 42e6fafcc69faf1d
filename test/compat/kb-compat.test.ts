/**
 * The knowledge base through the gateway, as clients see it, once per backend: the legacy routes and their
 * markdown, the JSON API, path rules, ownership and shares, commits, search freshness, bus events and the
 * "bad input" list of the contract. Git sync against a remote has its own specs (kb-sync).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readKbConfig } from '../../services/kb/config.ts';
import type { BusMessage } from '../../src/bus/types.ts';
import { dropTestDatabases, natsTestUrl, testBackends } from '../support/backends.ts';
import { type StackHandle, startStack } from '../support/stack.ts';

afterAll(async () => {
  await dropTestDatabases();
});

const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

async function git(cwd: string, ...args: string[]): Promise<string> {
  const p = Bun.spawn(['git', ...args], { cwd, stdout: 'pipe', stderr: 'pipe' });
  const out = await new Response(p.stdout).text();
  await p.exited;
  return out;
}

for (const backend of testBackends()) {
  describe(`kb compat (${backend.name})`, () => {
    let s: StackHandle;
    let kbPath: string;
    const idA = crypto.randomUUID();
    const idB = crypto.randomUUID();
    const emailA = `a-${idA.slice(0, 8)}@example.com`;
    const emailB = `b-${idB.slice(0, 8)}@example.com`;
    let jwtA: string;
    let jwtB: string;
    const events: BusMessage[] = [];

    beforeAll(async () => {
      s = await startStack({
        databaseUrl: await backend.databaseUrl(),
        // PostgreSQL runs go with NATS, as a production deployment does.
        natsUrl: backend.name === 'postgresql' ? natsTestUrl() : undefined,
      });
      kbPath = readKbConfig(s.config).path;
      jwtA = await s.mintJwt({ sub: idA, email: emailA, user_metadata: { name: 'Alice A' } });
      jwtB = await s.mintJwt({ sub: idB, email: emailB });
      s.stack.bus.subscribe('gaia.kb.>', (m) => {
        events.push(m);
      });
      // Both users exist once they have called the gateway.
      expect((await asA('/api/v1/kb/me')).status).toBe(200);
      expect((await asB('/api/v1/kb/me')).status).toBe(200);
      // Organisation content written by the admin (the dev key).
      const seed: Array<[string, string]> = [
        [
          'lore/dragons.md',
          '---\ntitle: Dragons\ntags: [lore]\n---\n# Dragons\n\nIntro line.\nThe dragon sleeps under the ridge.\n',
        ],
        ['lore/+lore.md', '# Lore\nThe world of [[dragons]] and #myth\n'],
        [
          'gaia/+gaia.md',
          '---\ntitle: Gaia\ntags: [platform]\n---\n# Gaia\nSee [[gaia/architecture]] #kos\n',
        ],
        ['gaia/architecture.md', '# Architecture\nGateway and services. #kos\n'],
      ];
      for (const [path, content] of seed) {
        const r = await s.dev(
          '/api/v0.2/kb/write',
          json({ path, content, message: 'seed', validate_content: false }),
        );
        expect(r.status).toBe(200);
      }
    });

    afterAll(async () => {
      await s?.stop();
    });

    const as =
      (jwt: string) =>
      (path: string, init: RequestInit = {}) =>
        s.fetch(path, { ...init, headers: { authorization: `Bearer ${jwt}`, ...(init.headers as object) } });
    const asA = (path: string, init?: RequestInit) => as(jwtA)(path, init);
    const asB = (path: string, init?: RequestInit) => as(jwtB)(path, init);

    test('health shows kb healthy and its routes no longer answer 503', async () => {
      const h = await s.fetch('/health');
      const body = await h.json();
      expect(body.services.kb.status).toBe('healthy');
      expect(typeof body.services.kb.response_time).toBe('number');
      const kbh = await s.dev('/api/v0.2/kb/health');
      expect(kbh.status).toBe(200);
      expect((await kbh.json()).service).toBe('kb');
    });

    test('legacy search answers the Python platform markdown shape', async () => {
      const r = await s.dev('/api/v0.2/kb/search', json({ message: 'dragon' }));
      expect(r.status).toBe(200);
      const body = await r.json();
      expect(body.status).toBe('success');
      expect(body.metadata).toEqual({ total_results: body.metadata.total_results, query: 'dragon' });
      expect(body.response.startsWith("🔍 **KB Search Results for 'dragon'**\n\nFound ")).toBe(true);
      expect(body.response).toContain(
        '**1. lore/dragons.md**\nContext: lore\nExcerpt: The dragon sleeps under the ridge....\n\n',
      );
      const alias = await s.dev('/api/v1/chat/kb-search', json({ message: 'dragon' }));
      expect(alias.status).toBe(200);
      expect((await alias.json()).response).toBe(body.response);
    });

    test('legacy read, list, context, navigate, synthesize and threads', async () => {
      const read = await (await s.dev('/api/v0.2/kb/read', json({ message: 'lore/dragons.md' }))).json();
      expect(read.metadata).toEqual({ file_path: 'lore/dragons.md' });
      expect(read.response.startsWith('📄 **File: lore/dragons.md**\n\n')).toBe(true);
      const list = await (await s.dev('/api/v0.2/kb/list', json({ message: 'lore' }))).json();
      expect(list.response).toContain('📁 **Directory: lore**');
      expect(list.response).toContain('dragons.md');
      const ctx = await s.dev('/api/v0.2/kb/context', json({ message: 'gaia' }));
      expect(ctx.status).toBe(200);
      const cb = await ctx.json();
      expect(cb.metadata).toEqual({ context_name: 'gaia', loaded: true });
      expect(cb.response.startsWith('📚 **KOS Context: gaia**')).toBe(true);
      const nav = await (await s.dev('/api/v0.2/kb/navigate', json({ message: '' }))).json();
      expect(nav.response.startsWith("🧭 **KB Navigation from '/'**")).toBe(true);
      const syn = await (await s.dev('/api/v0.2/kb/synthesize', json({ message: 'gaia, lore' }))).json();
      expect(syn.metadata).toEqual({ contexts: ['gaia', 'lore'] });
      const th = await (await s.dev('/api/v0.2/kb/threads', json({ message: '' }))).json();
      expect(th.metadata).toEqual({ total_threads: 0, active_count: 0 });
      const unknown = await s.dev('/api/v0.2/kb/context', json({ message: 'nope' }));
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toEqual({ detail: 'Context index not found for: nope' });
    });

    test('legacy multitask, git status and cache routes', async () => {
      const mt = await s.dev('/api/v1/chat/kb-multitask', json({ message: 'search for dragon and ridge' }));
      expect(mt.status).toBe(200);
      const m = await mt.json();
      expect(m.metadata).toEqual({ tasks_count: 2, execution_mode: 'parallel' });
      expect(m.response).toStartWith(
        '⚡ **Multi-Task KB Execution Complete**\n\n**Tasks Executed:** 2\n**Successful:** 2\n',
      );
      expect(m.response).toContain("- Found 1 matches for 'dragon'");
      const st = await (await s.dev('/api/v0.2/kb/git/status')).json();
      expect(st).toEqual({
        success: true,
        changes: { modified: [], added: [], deleted: [], untracked: [] },
        has_changes: false,
      });
      const stats = await (await s.dev('/api/v0.2/kb/cache/stats')).json();
      expect(stats.status).toBe('success');
      expect(stats.cache).toMatchObject({ enabled: true, backend: 'memory' });
      const inv = await s.dev('/api/v0.2/kb/cache/invalidate?pattern=search:*', { method: 'POST' });
      expect(await inv.json()).toEqual({
        status: 'success',
        message: 'Cache invalidated for pattern: search:*',
      });
    });

    test('#1 missing message → 422 naming message', async () => {
      const r = await s.dev('/api/v0.2/kb/read', json({}));
      expect(r.status).toBe(422);
      const body = await r.json();
      expect(body.errors[0].path).toBe('message');
    });

    test('#2–#6 path rules answer 400 and never reach the file system', async () => {
      for (const bad of ['../../etc/passwd', 'gaia/../../x', './a.md', 'a/./b.md']) {
        const r = await s.dev('/api/v0.2/kb/read', json({ message: bad }));
        expect(r.status).toBe(400);
        expect((await r.json()).detail).toStartWith('Invalid path:');
      }
      const etc = await s.dev('/api/v0.2/kb/read', json({ message: '/etc/passwd' }));
      expect(etc.status).toBe(404);
      expect(await etc.json()).toEqual({ detail: 'File not found: etc/passwd' });
      for (const enc of ['%2e%2e%2fsecret', '%252e%252e%252f']) {
        const r = await s.dev(`/api/v1/kb/files/${enc}`);
        expect(r.status).toBe(400);
      }
      for (const bad of [
        'a\u0000b.md',
        'a\u202eb.md',
        '..\\x',
        'C:',
        'a:b.md',
        'x/'.repeat(40) + 'a.md',
        'a'.repeat(2000),
      ]) {
        const r = await s.dev('/api/v0.2/kb/read', json({ message: bad }));
        expect(r.status).toBe(400);
      }
      for (const hidden of ['.git/config', '.github/x.md', 'notes/.secret.md']) {
        const r = await s.dev('/api/v0.2/kb/read', json({ message: hidden }));
        expect(r.status).toBe(400);
      }
    });

    test('#7 #8 symbolic links are never served, listed, indexed or written', async () => {
      const dir = join(kbPath, 'notes');
      await s.dev(
        '/api/v0.2/kb/write',
        json({ path: 'notes/real.md', content: '# Real\nvisible text\n', message: 'x' }),
      );
      symlinkSync('/etc/passwd', join(dir, 'link.md'));
      symlinkSync('/', join(dir, 'ext'));
      const read = await s.dev('/api/v0.2/kb/read', json({ message: 'notes/link.md' }));
      expect(read.status).toBe(404);
      expect((await s.dev('/api/v0.2/kb/read', json({ message: 'notes/ext/etc/passwd.md' }))).status).toBe(
        404,
      );
      const list = await (await s.dev('/api/v1/kb/list?path=notes')).json();
      expect(list.files.map((f: { name: string }) => f.name)).toEqual(['real.md']);
      expect(list.directories).toEqual([]);
      const w = await s.dev(
        '/api/v0.2/kb/write',
        json({ path: 'notes/link.md', content: 'x', message: 'x' }),
      );
      expect(w.status).toBe(400);
      const w2 = await s.dev(
        '/api/v0.2/kb/write',
        json({ path: 'notes/ext/x.md', content: 'x', message: 'x' }),
      );
      expect(w2.status).toBe(400);
      const rebuilt = await s.dev('/api/v1/kb/index/rebuild', { method: 'POST' });
      expect(rebuilt.status).toBe(202);
      await Bun.sleep(200);
      const found = await (await s.dev('/api/v1/kb/search?q=root')).json();
      expect(found.results.map((r: { path: string }) => r.path)).not.toContain('notes/link.md');
    });

    test('#9 write rules: extension 400, size 413, letter-case twin 409', async () => {
      for (const p of ['notes/run.sh', 'notes/a.exe']) {
        const r = await s.dev('/api/v0.2/kb/write', json({ path: p, content: 'x', message: 'x' }));
        expect(r.status).toBe(400);
      }
      const big = await s.dev(
        '/api/v0.2/kb/write',
        json({ path: 'notes/big.md', content: 'a'.repeat(11 * 1024 * 1024), message: 'x' }),
      );
      expect(big.status).toBe(413);
      await s.dev('/api/v0.2/kb/write', json({ path: 'notes/a.md', content: '# a\n', message: 'x' }));
      const twin = await s.dev(
        '/api/v0.2/kb/write',
        json({ path: 'notes/A.md', content: '# A\n', message: 'x' }),
      );
      expect(twin.status).toBe(409);
    });

    test('#10 validate_content checks frontmatter; without it the file is written and reads back {}', async () => {
      const bad = '---\n: [\n---\nbody\n';
      const r = await s.dev('/api/v0.2/kb/write', json({ path: 'notes/fm.md', content: bad, message: 'x' }));
      expect(r.status).toBe(422);
      expect((await r.json()).detail).toBe('Content validation failed');
      const ok = await s.dev(
        '/api/v0.2/kb/write',
        json({ path: 'notes/fm.md', content: bad, message: 'x', validate_content: false }),
      );
      expect(ok.status).toBe(200);
      const file = await (await s.dev('/api/v1/kb/files/notes/fm.md')).json();
      expect(file.frontmatter).toEqual({});
    });

    test('legacy write answers the old JSON, makes one commit with author and trailer, and is searchable at once', async () => {
      const r = await asA(
        '/api/v0.2/kb/write',
        json({
          path: `users/${idA}/ideas.md`,
          content: '# Ideas\nquetzalcoatl feathers\n',
          message: 'first idea',
        }),
      );
      expect(r.status).toBe(200);
      const body = await r.json();
      expect(body).toEqual({
        success: true,
        action: 'create',
        path: `users/${idA}/ideas.md`,
        commit_hash: body.commit_hash,
        message: 'first idea',
        warnings: ["Missing 'title' in frontmatter", "Missing 'tags' in frontmatter"],
      });
      expect(body.commit_hash).toMatch(/^[0-9a-f]{7}$/);
      const log = await git(kbPath, 'log', '-1', '--format=%an <%ae>|%cn <%ce>|%B');
      expect(log).toContain(
        `Alice A <${emailA}>|KB Service <kb@gaia.dev>|Create users/${idA}/ideas.md: first idea`,
      );
      expect(log).toContain(`Gaia-User: ${idA}`);
      const found = await (await asA('/api/v1/kb/search?q=quetzalcoatl')).json();
      expect(found.results.map((x: { path: string }) => x.path)).toEqual([`users/${idA}/ideas.md`]);
      const same = await asA(
        '/api/v0.2/kb/write',
        json({
          path: `users/${idA}/ideas.md`,
          content: '# Ideas\nquetzalcoatl feathers\n',
          message: 'again',
        }),
      );
      expect(await same.json()).toEqual({
        success: true,
        message: 'No changes to commit',
        path: `users/${idA}/ideas.md`,
      });
      const ev = events.find(
        (e) => e.subject === 'gaia.kb.file.changed' && e.data.path === `users/${idA}/ideas.md`,
      );
      expect(ev?.data).toMatchObject({
        action: 'create',
        namespace: `users/${idA}`,
        user_id: idA,
        source: 'api',
        old_path: null,
      });
      expect(JSON.stringify(ev?.data)).not.toContain('quetzalcoatl');
    });

    test('#11 #12 search input: literal text, bad sizes, bad limits', async () => {
      const lit = await s.dev('/api/v0.2/kb/search', json({ message: '(unclosed[regex' }));
      expect(lit.status).toBe(200);
      expect((await s.dev('/api/v0.2/kb/search', json({ message: '   ' }))).status).toBe(400);
      expect((await s.dev('/api/v0.2/kb/search', json({ message: 'x'.repeat(600) }))).status).toBe(400);
      expect((await s.dev('/api/v1/kb/search?q=dragon&limit=0')).status).toBe(422);
      expect((await s.dev('/api/v1/kb/search?q=dragon&limit=101')).status).toBe(422);
      const res = await (await s.dev('/api/v1/kb/search?q=dragon%20ridge')).json();
      expect(res.match).toBe('all');
      expect(res.results[0]).toMatchObject({
        path: 'lore/dragons.md',
        namespace: 'root',
        context: 'lore',
        title: 'Dragons',
        line_number: 8,
        excerpt: 'The dragon sleeps under the ridge.',
      });
    });

    test("#13 #14 ownership: other users' namespaces are 403 with identical bodies until shared", async () => {
      await asB(
        '/api/v0.2/kb/write',
        json({ path: `users/${idB}/notes.md`, content: '# B notes\nzyzzyva secret\n', message: 'b' }),
      );
      const existing = await asA('/api/v0.2/kb/read', json({ message: `users/${idB}/notes.md` }));
      const missing = await asA('/api/v0.2/kb/read', json({ message: `users/${idB}/missing.md` }));
      expect(existing.status).toBe(403);
      expect(missing.status).toBe(403);
      const e1 = await existing.json();
      const e2 = await missing.json();
      expect(e1.detail).toBe(`Forbidden: no read access to users/${idB}/notes.md`);
      expect(e2.detail).toBe(`Forbidden: no read access to users/${idB}/missing.md`);
      const search = await (await asA('/api/v1/kb/search?q=zyzzyva')).json();
      expect(search.total).toBe(0);
      expect((await asA(`/api/v1/kb/search?q=zyzzyva&contexts=users/${idB}`)).status).toBe(403);
      const nope = await (await asA('/api/v1/kb/search?q=zyzzyva&contexts=nope')).json();
      expect(nope.total).toBe(0);
      // B shares read-only.
      const share = await asB(
        '/api/v1/kb/shares',
        json({ path: `users/${idB}/notes.md`, recipients: [emailA], permissions: ['read'] }),
      );
      expect(share.status).toBe(201);
      const shareBody = await share.json();
      expect(shareBody.shares[0]).toMatchObject({
        principal_type: 'user',
        principal: idA,
        permissions: ['read'],
      });
      expect((await asA('/api/v0.2/kb/read', json({ message: `users/${idB}/notes.md` }))).status).toBe(200);
      expect((await asA('/api/v1/kb/search?q=zyzzyva').then((r) => r.json())).total).toBe(1);
      const w = await asA(
        '/api/v0.2/kb/write',
        json({ path: `users/${idB}/notes.md`, content: 'x', message: 'x' }),
      );
      expect(w.status).toBe(403);
      // Expiry: a share that has run out stops counting.
      const del = await asB(`/api/v1/kb/shares/${shareBody.shares[0].id}`, { method: 'DELETE' });
      expect(del.status).toBe(204);
      expect((await asA('/api/v0.2/kb/read', json({ message: `users/${idB}/notes.md` }))).status).toBe(403);
    });

    test('#15 share rules', async () => {
      const priv = await asA(
        '/api/v1/kb/shares',
        json({ path: `users/${idA}/private/x.md`, recipients: [emailB] }),
      );
      expect(priv.status).toBe(400);
      const foreign = await asA(
        '/api/v1/kb/shares',
        json({ path: `users/${idB}/notes.md`, recipients: [emailA] }),
      );
      expect(foreign.status).toBe(403);
      const perm = await asA(
        '/api/v1/kb/shares',
        json({ path: `users/${idA}/ideas.md`, recipients: [emailB], permissions: ['admin'] }),
      );
      expect(perm.status).toBe(422);
      const past = await asA(
        '/api/v1/kb/shares',
        json({ path: `users/${idA}/ideas.md`, recipients: [emailB], expires_at: '2000-01-01T00:00:00Z' }),
      );
      expect(past.status).toBe(422);
      const none = await asA('/api/v1/kb/shares', json({ path: `users/${idA}/ideas.md` }));
      expect(none.status).toBe(422);
      const unknown = await asA(
        '/api/v1/kb/shares',
        json({ path: `users/${idA}/ideas.md`, recipients: ['ghost@example.com'] }),
      );
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toEqual({ detail: 'User ghost@example.com not found' });
    });

    test('#16 teams: admin creates, scaffold committed, viewer cannot write, last owner stays', async () => {
      expect((await asA('/api/v1/kb/teams', json({ name: 'eng', display_name: 'Eng' }))).status).toBe(403);
      const team = await s.dev(
        '/api/v1/kb/teams',
        json({ name: 'eng', display_name: 'Engineering', description: 'Core' }),
      );
      expect(team.status).toBe(201);
      const tb = await team.json();
      expect(tb).toMatchObject({
        name: 'eng',
        display_name: 'Engineering',
        path: 'teams/eng/',
        my_role: 'owner',
        member_count: 1,
      });
      const files = await (await s.dev('/api/v1/kb/list?path=teams/eng&recursive=true')).json();
      expect(files.files.map((f: { path: string }) => f.path)).toContain('teams/eng/+eng.md');
      expect((await s.dev('/api/v1/kb/teams', json({ name: 'eng', display_name: 'Again' }))).status).toBe(
        409,
      );
      const add = await s.dev('/api/v1/kb/teams/eng/members', json({ user: emailA, role: 'viewer' }));
      expect(add.status).toBe(201);
      expect(await add.json()).toMatchObject({ team: 'eng', user_id: idA, email: emailA, role: 'viewer' });
      expect((await asA('/api/v1/kb/files/teams/eng/+eng.md')).status).toBe(200);
      const w = await asA('/api/v1/kb/files/teams/eng/x.md', json({ content: '# x\n' }, 'PUT'));
      expect(w.status).toBe(403);
      await s.dev(`/api/v1/kb/teams/eng/members/${idA}`, json({ role: 'member' }, 'PATCH'));
      const w2 = await asA('/api/v1/kb/files/teams/eng/x.md', json({ content: '# x\n' }, 'PUT'));
      expect(w2.status).toBe(201);
      const devId = '00000000-0000-4000-8000-000000000001';
      const last = await s.dev(`/api/v1/kb/teams/eng/members/${devId}`, { method: 'DELETE' });
      expect(last.status).toBe(409);
    });

    test('#17 archived workspaces are read-only for members', async () => {
      const ws = await asA(
        '/api/v1/kb/workspaces',
        json({ name: 'q4', display_name: 'Q4', workspace_type: 'project', initial_members: [emailB] }),
      );
      expect(ws.status).toBe(201);
      expect(await ws.json()).toMatchObject({
        name: 'q4',
        status: 'active',
        owner: idA,
        path: 'workspaces/q4/',
      });
      expect(
        (await asB('/api/v1/kb/files/workspaces/q4/plan.md', json({ content: '# plan\n' }, 'PUT'))).status,
      ).toBe(201);
      expect((await asA('/api/v1/kb/workspaces/q4', json({ status: 'archived' }, 'PATCH'))).status).toBe(200);
      expect(
        (await asB('/api/v1/kb/files/workspaces/q4/plan2.md', json({ content: '# plan\n' }, 'PUT'))).status,
      ).toBe(403);
      expect((await asB('/api/v1/kb/files/workspaces/q4/plan.md')).status).toBe(200);
    });

    test('#18 shared/ and root need an editor; the KB admin may', async () => {
      expect(
        (await asA('/api/v0.2/kb/write', json({ path: 'shared/policy.md', content: '# p\n', message: 'x' })))
          .status,
      ).toBe(403);
      expect(
        (await asA('/api/v0.2/kb/write', json({ path: 'README.md', content: '# r\n', message: 'x' }))).status,
      ).toBe(403);
      expect(
        (
          await s.dev(
            '/api/v0.2/kb/write',
            json({ path: 'shared/policy.md', content: '# p\n', message: 'x' }),
          )
        ).status,
      ).toBe(200);
      expect((await asA('/api/v0.2/kb/read', json({ message: 'shared/policy.md' }))).status).toBe(200);
    });

    test('#19 move rules', async () => {
      const noDelete = await asA(
        '/api/v0.2/kb/move',
        json({ old_path: 'shared/policy.md', new_path: `users/${idA}/p.md`, message: 'm' }),
      );
      expect(noDelete.status).toBe(403);
      await asA('/api/v0.2/kb/write', json({ path: `users/${idA}/m1.md`, content: '# m1\n', message: 'x' }));
      const onto = await asA(
        '/api/v0.2/kb/move',
        json({ old_path: `users/${idA}/m1.md`, new_path: `users/${idA}/ideas.md`, message: 'm' }),
      );
      expect(onto.status).toBe(409);
      expect(await onto.json()).toEqual({ detail: `Destination already exists: users/${idA}/ideas.md` });
      const missing = await asA(
        '/api/v0.2/kb/move',
        json({ old_path: `users/${idA}/none.md`, new_path: `users/${idA}/n2.md`, message: 'm' }),
      );
      expect(missing.status).toBe(404);
      const ok = await asA(
        '/api/v0.2/kb/move',
        json({ old_path: `users/${idA}/m1.md`, new_path: `users/${idA}/m2.md`, message: 'm' }),
      );
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({
        success: true,
        action: 'move',
        old_path: `users/${idA}/m1.md`,
        new_path: `users/${idA}/m2.md`,
      });
      const del = await s.fetch('/api/v0.2/kb/delete', {
        method: 'DELETE',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${jwtA}` },
        body: JSON.stringify({ path: `users/${idA}/m2.md`, message: 'bye' }),
      });
      expect(del.status).toBe(200);
      expect(await del.json()).toMatchObject({ success: true, action: 'delete', path: `users/${idA}/m2.md` });
    });

    test('#20 expected_sha: the first PUT commits, the second gets 409 with current_sha and changes nothing', async () => {
      const path = `users/${idA}/doc.md`;
      const created = await asA(
        `/api/v1/kb/files/${path}`,
        json({ content: '# v1\n', expected_sha: null }, 'PUT'),
      );
      expect(created.status).toBe(201);
      const c = await created.json();
      expect(c).toMatchObject({ path, action: 'create', warnings: expect.any(Array) });
      expect(c.commit).toMatch(/^[0-9a-f]{40}$/);
      const first = await asA(
        `/api/v1/kb/files/${path}`,
        json({ content: '# v2\n', expected_sha: c.sha }, 'PUT'),
      );
      expect(first.status).toBe(200);
      const f = await first.json();
      const second = await asA(
        `/api/v1/kb/files/${path}`,
        json({ content: '# v3\n', expected_sha: c.sha }, 'PUT'),
      );
      expect(second.status).toBe(409);
      expect(await second.json()).toEqual({ detail: 'File changed since it was read', current_sha: f.sha });
      const now = await (await asA(`/api/v1/kb/files/${path}`)).json();
      expect(now.content).toBe('# v2\n');
      expect(now.sha).toBe(f.sha);
    });

    test('#21 concurrent writes to different files: both committed and searchable after their responses', async () => {
      const before = Number((await git(kbPath, 'rev-list', '--count', 'HEAD')).trim());
      const [r1, r2] = await Promise.all([
        asA(`/api/v1/kb/files/users/${idA}/c1.md`, json({ content: '# c1\nxylophone one\n' }, 'PUT')),
        asA(`/api/v1/kb/files/users/${idA}/c2.md`, json({ content: '# c2\nxylophone two\n' }, 'PUT')),
      ]);
      expect(r1.status).toBe(201);
      expect(r2.status).toBe(201);
      const after = Number((await git(kbPath, 'rev-list', '--count', 'HEAD')).trim());
      expect(after - before).toBe(2);
      const found = await (await asA('/api/v1/kb/search?q=xylophone')).json();
      expect(found.total).toBe(2);
    });

    test('#26 #27 webhook without a secret is 404; admin-only sync routes are 403 for users', async () => {
      expect((await s.fetch('/api/v1/kb/sync/webhook', json({ ref: 'refs/heads/main' }))).status).toBe(404);
      for (const p of ['/api/v1/kb/sync/pull', '/api/v1/kb/sync/push', '/api/v1/kb/index/rebuild'])
        expect((await asA(p, { method: 'POST' })).status).toBe(403);
      const st = await (await asA('/api/v1/kb/sync/status')).json();
      expect(st).toMatchObject({ remote: null, branch: 'main', push_enabled: false });
    });

    test('JSON API: file object, list, access, me, history', async () => {
      const f = await (await s.dev('/api/v1/kb/files/gaia/+gaia.md')).json();
      expect(f).toEqual({
        path: 'gaia/+gaia.md',
        namespace: 'root',
        title: 'Gaia',
        frontmatter: { title: 'Gaia', tags: ['platform'] },
        content: '# Gaia\nSee [[gaia/architecture]] #kos\n',
        keywords: ['kos', 'platform'],
        wiki_links: ['gaia/architecture'],
        size: 75,
        modified: f.modified,
        is_index: true,
        sha: f.sha,
      });
      expect(f.sha).toBe((await git(kbPath, 'hash-object', 'gaia/+gaia.md')).trim());
      const acc = await (await asA(`/api/v1/kb/access?path=users/${idA}/x.md`)).json();
      expect(acc.can).toEqual({
        read: true,
        list: true,
        search: true,
        write: true,
        move: true,
        delete: true,
        share: true,
      });
      const accB = await (await asA(`/api/v1/kb/access?path=users/${idB}/x.md`)).json();
      expect(accB.can.read).toBe(false);
      const me = await (await asA('/api/v1/kb/me')).json();
      expect(me.user_id).toBe(idA);
      expect(me.admin).toBe(false);
      const hist = await (await asA(`/api/v1/kb/history?path=users/${idA}/ideas.md&limit=1`)).json();
      expect(hist.commits[0]).toMatchObject({ author: 'Alice A', email: emailA });
      const root = await (await asA('/api/v1/kb/list?path=users')).json();
      expect(root.directories.map((d: { name: string }) => d.name)).toEqual([idA]);
    });

    test('a file changed on disk outside the API is picked up by index rebuild', async () => {
      writeFileSync(join(kbPath, 'lore', 'outside.md'), '# Outside\nwombat cartography\n');
      await s.dev('/api/v1/kb/index/rebuild', { method: 'POST' });
      await Bun.sleep(300);
      const found = await (await s.dev('/api/v1/kb/search?q=wombat')).json();
      expect(found.results.map((r: { path: string }) => r.path)).toEqual(['lore/outside.md']);
    });

    test('persistence: after a restart, writes are there and searchable', async () => {
      await s.restart();
      const found = await (await asA('/api/v1/kb/search?q=quetzalcoatl')).json();
      expect(found.total).toBe(1);
    });
  });
}
