/**
 * The KB against a real Git smart-HTTP remote (git http-backend on loopback) through the gateway: clone at
 * start (503 with Retry-After meanwhile), commits pushed, another writer's push arriving by signed webhook
 * and by schedule, a both-sides edit leaving a conflict copy, and the token never shown anywhere.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BusMessage } from '../../src/bus/types.ts';
import { dropTestDatabases, natsTestUrl, testBackends } from '../support/backends.ts';
import { eventually } from '../support/eventually.ts';
import { cliWriter, type GitRemote, gitCli, startGitRemote } from '../support/git-remote.ts';
import { type StackHandle, startStack } from '../support/stack.ts';

afterAll(async () => {
  await dropTestDatabases();
});

const TOKEN = 'sync-token-7f3a9c2e1d';
const SECRET = 'webhook-secret-for-tests';

/** A loopback proxy in front of the remote that holds every request until `open()`: a slow clone. */
function gatedProxy(target: string) {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const t = new URL(target);
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      await gate;
      const u = new URL(req.url);
      u.host = t.host;
      return fetch(u, { method: req.method, headers: req.headers, body: req.body, redirect: 'manual' });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}${t.pathname}`,
    open: release,
    stop: () => server.stop(true),
  };
}

async function remoteFile(remote: GitRemote, path: string): Promise<string | null> {
  const dir = mkdtempSync(join(tmpdir(), 'gaia-kb-peek-'));
  try {
    await gitCli(dir, 'clone', '-q', remote.authedUrl, 'r');
    return await Bun.file(join(dir, 'r', path))
      .text()
      .catch(() => null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const backend of testBackends()) {
  describe(`kb with a Git remote (${backend.name})`, () => {
    let remote: GitRemote;
    let s: StackHandle;
    let writer: Awaited<ReturnType<typeof cliWriter>>;
    let proxy: ReturnType<typeof gatedProxy>;
    const events: BusMessage[] = [];

    beforeAll(async () => {
      remote = await startGitRemote({ token: TOKEN });
      writer = await cliWriter(remote);
      await writer.commitFile('lore/+lore.md', '# Lore\nThe first page.\n', 'initial');
      await writer.push();
      proxy = gatedProxy(remote.url);
      s = await startStack({
        databaseUrl: await backend.databaseUrl(),
        natsUrl: natsTestUrl(),
        env: {
          KB_GIT_REPO_URL: proxy.url,
          KB_GIT_AUTH_TOKEN: TOKEN,
          KB_PUSH_ENABLED: 'true',
          KB_SYNC_INTERVAL: '0',
          KB_GIT_WEBHOOK_SECRET: SECRET,
        },
      });
      s.stack.bus.subscribe('gaia.kb.>', (m) => {
        events.push(m);
      });
    }, 30_000);

    afterAll(async () => {
      await s?.stop();
      proxy?.stop();
      writer?.cleanup();
      await remote?.stop();
    });

    test('#30 while the first clone runs, KB routes answer 503 with Retry-After and /health answers', async () => {
      const r = await s.dev('/api/v1/kb/list?path=/');
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('5');
      expect(await r.json()).toEqual({ detail: 'Knowledge base is initialising' });
      expect((await s.fetch('/health')).status).toBeLessThan(600);
      const kbHealth = (await (await s.fetch('/health')).json()).services.kb;
      expect(kbHealth.status).toBe('healthy');
      proxy.open();
      await eventually(async () =>
        (await s.dev('/api/v1/kb/list?path=/')).status === 200 ? true : undefined,
      );
      const f = await (await s.dev('/api/v1/kb/files/lore/+lore.md')).json();
      expect(f.content).toBe('# Lore\nThe first page.\n');
      const found = await (await s.dev('/api/v1/kb/search?q=first')).json();
      expect(found.total).toBe(1);
    });

    test('a write is committed, then pushed to the remote', async () => {
      const r = await s.dev('/api/v1/kb/files/notes/pushed.md', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ content: '# Pushed\n', message: 'to the remote' }),
      });
      expect(r.status).toBe(201);
      expect(await eventually(() => remoteFile(remote, 'notes/pushed.md').then((t) => t ?? undefined))).toBe(
        '# Pushed\n',
      );
      const st = await (await s.dev('/api/v1/kb/sync/status')).json();
      expect(st.last_push?.result).toBe('ok');
      expect(st.remote).not.toContain(TOKEN);
    });

    test("another writer's push arrives by a signed GitHub webhook; bad signatures are 401", async () => {
      await writer.pull();
      await writer.commitFile('lore/hydra.md', '# Hydra\nnine heads\n', 'cli edit');
      await writer.push();
      const body = JSON.stringify({ ref: 'refs/heads/main', after: 'x' });
      const bad = await s.fetch('/api/v1/kb/sync/webhook', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'push',
          'x-hub-signature-256': 'sha256=00',
        },
        body,
      });
      expect(bad.status).toBe(401);
      expect(await bad.json()).toEqual({ detail: 'Invalid webhook signature' });
      const sig = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
      const ok = await s.fetch('/api/v1/kb/sync/webhook', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': sig },
        body,
      });
      expect(ok.status).toBe(202);
      expect(await ok.json()).toEqual({ status: 'accepted' });
      const found = await eventually(async () => {
        const b = await (await s.dev('/api/v1/kb/search?q=hydra')).json();
        return b.total === 1 ? b : undefined;
      });
      expect(found.results[0].path).toBe('lore/hydra.md');
      const pulled = events.find(
        (e) => e.subject === 'gaia.kb.file.changed' && e.data.path === 'lore/hydra.md',
      );
      expect(pulled?.data).toMatchObject({ action: 'create', source: 'pull', user_id: null });
      const done = events.find((e) => e.subject === 'gaia.kb.sync.completed' && e.data.trigger === 'webhook');
      expect(done?.data).toMatchObject({ direction: 'pull', result: 'ok', error: null });
      const big = await s.fetch('/api/v1/kb/sync/webhook', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': sig },
        body: 'x'.repeat(2 * 1024 * 1024),
      });
      expect(big.status).toBe(413);
    });

    test('#22 a both-sides edit keeps the local text and writes the remote one beside it', async () => {
      await writer.pull();
      await writer.commitFile('notes/pushed.md', '# Pushed\nremote text\n', 'remote edit');
      await writer.push();
      const r = await s.dev('/api/v1/kb/files/notes/pushed.md', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ content: '# Pushed\nlocal text\n' }),
      });
      expect(r.status).toBe(200);
      // The push is rejected, a pull merges, the conflict is recorded and the merge pushed.
      const st = await eventually(async () => {
        const b = await (await s.dev('/api/v1/kb/sync/status')).json();
        return b.conflicts.length > 0 ? b : undefined;
      });
      expect(st.conflicts[0].path).toBe('notes/pushed.md');
      expect(st.conflicts[0].copy).toMatch(/^notes\/pushed\.remote-[0-9a-f]{7}\.md$/);
      expect((await (await s.dev('/api/v1/kb/files/notes/pushed.md')).json()).content).toBe(
        '# Pushed\nlocal text\n',
      );
      const copy = await (await s.dev(`/api/v1/kb/files/${st.conflicts[0].copy}`)).json();
      expect(copy.content).toBe('# Pushed\nremote text\n');
      const done = events.find(
        (e) => e.subject === 'gaia.kb.sync.completed' && e.data.result === 'conflicts',
      );
      expect(done?.data.conflicts).toEqual(['notes/pushed.md']);
    });

    test('the token never appears in a log line, an error, an event or sync/status', async () => {
      const st = await (await s.dev('/api/v1/kb/sync/status')).text();
      expect(st).not.toContain(TOKEN);
      expect(s.logs.join('\n')).not.toContain(TOKEN);
      expect(JSON.stringify(events.map((e) => e.data))).not.toContain(TOKEN);
    });
  });
}

describe('kb scheduled pull and bad credentials', () => {
  let remote: GitRemote;
  let s: StackHandle;
  let bad: StackHandle;

  beforeAll(async () => {
    remote = await startGitRemote({ token: TOKEN });
    const w = await cliWriter(remote);
    await w.commitFile('a.md', '# A\n', 'initial');
    await w.push();
    w.cleanup();
    s = await startStack({
      env: { KB_GIT_REPO_URL: remote.url, KB_GIT_AUTH_TOKEN: TOKEN, KB_SYNC_INTERVAL: '1' },
    });
    bad = await startStack({
      env: { KB_GIT_REPO_URL: remote.url, KB_GIT_AUTH_TOKEN: 'wrong-token-abc123', KB_SYNC_INTERVAL: '0' },
    });
  }, 30_000);

  afterAll(async () => {
    await s?.stop();
    await bad?.stop();
    await remote?.stop();
  });

  test('a change pushed by the git CLI arrives by the schedule', async () => {
    await eventually(async () => ((await s.dev('/api/v1/kb/files/a.md')).status === 200 ? true : undefined));
    const w = await cliWriter(remote);
    await w.commitFile('scheduled.md', '# Scheduled\nmanticore\n', 'cli');
    await w.push();
    w.cleanup();
    const found = await eventually(async () => {
      const b = await (await s.dev('/api/v1/kb/search?q=manticore')).json();
      return b.total === 1 ? b : undefined;
    });
    expect(found.results[0].path).toBe('scheduled.md');
    const st = await (await s.dev('/api/v1/kb/sync/status')).json();
    expect(st.last_pull.trigger).toBe('schedule');
  });

  test('#25 a bad token on clone shows state error with the token masked', async () => {
    const st = await eventually(async () => {
      const r = await bad.dev('/api/v1/kb/sync/status');
      const b = await r.json();
      return b.state === 'error' ? b : undefined;
    });
    expect(typeof st.error).toBe('string');
    expect(JSON.stringify(st)).not.toContain('wrong-token-abc123');
    expect(bad.logs.join('\n')).not.toContain('wrong-token-abc123');
  });
});
