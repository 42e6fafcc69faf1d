/**
 * Two kb instances sharing one Git remote (push enabled) and one bus, as a scaled-out deployment runs
 * them: the first is mounted in a whole Gaia stack (reached through its gateway), the second is another kb
 * service on its own working tree. On CI the bus is NATS (GAIA_TEST_NATS_URL) and each instance has its own
 * connection; locally without NATS they share the in-process bus.
 *
 * A write through either is readable and searchable through the other within 5 s; concurrent writes to
 * different files on both all survive; the same file written on both leaves a conflict copy and loses nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kbService } from '../../services/kb/app.ts';
import { createBus } from '../../src/bus/index.ts';
import type { Bus } from '../../src/bus/types.ts';
import { loadConfig } from '../../src/config.ts';
import { IDENTITY_HEADER, signIdentitySync } from '../../src/http/identity.ts';
import { createLogger } from '../../src/log.ts';
import type { MountedService } from '../../src/platform.ts';
import { dropTestDatabases, natsTestUrl, testBackends } from '../support/backends.ts';
import { eventually } from '../support/eventually.ts';
import { cliWriter, type GitRemote, gitCli, startGitRemote } from '../support/git-remote.ts';
import { DEV_USER_ID, type StackHandle, startStack } from '../support/stack.ts';

afterAll(async () => {
  await dropTestDatabases();
});

const TOKEN = 'scale-token-0123456789';

for (const backend of testBackends()) {
  describe(`kb scale-out (${backend.name})`, () => {
    let remote: GitRemote;
    let s: StackHandle;
    let kb2: MountedService;
    let bus2: Bus | null = null;
    const dir2 = mkdtempSync(join(tmpdir(), 'gaia-kb2-'));
    const natsUrl = natsTestUrl();

    beforeAll(async () => {
      remote = await startGitRemote({ token: TOKEN });
      const w = await cliWriter(remote);
      await w.commitFile('README.md', '# Shared KB\n', 'initial');
      await w.push();
      w.cleanup();
      const kbEnv = {
        KB_GIT_REPO_URL: remote.url,
        KB_GIT_AUTH_TOKEN: TOKEN,
        KB_PUSH_ENABLED: 'true',
        KB_SYNC_INTERVAL: '0',
      };
      const databaseUrl = await backend.databaseUrl();
      s = await startStack({ databaseUrl, natsUrl, env: kbEnv });
      await eventually(
        async () => ((await s.dev('/api/v1/kb/list?path=/')).status === 200 ? true : undefined),
        15_000,
      );
      const config2 = loadConfig({
        GAIA_ENV: 'test',
        GAIA_DATA_DIR: dir2,
        DATABASE_URL: databaseUrl,
        GAIA_INTERNAL_SECRET: s.config.internalSecret,
        ...kbEnv,
      });
      const log = createLogger({ service: 'kb2', level: 'warn', json: true, sink: () => {} });
      bus2 = natsUrl ? await createBus({ natsUrl, name: 'gaia-kb2-test' }) : null;
      kb2 = await kbService({ config: config2, db: s.stack.db, bus: bus2 ?? s.stack.bus, log, clients: {} });
      await eventually(
        async () => ((await viaKb2('GET', '/api/v1/kb/list?path=/')).status === 200 ? true : undefined),
        15_000,
      );
    }, 40_000);

    afterAll(async () => {
      await kb2?.close?.();
      await bus2?.drain();
      await s?.stop();
      await remote?.stop();
      rmSync(dir2, { recursive: true, force: true });
    });

    /** Calls the second instance as the gateway would, as the dev admin. */
    function viaKb2(method: string, path: string, body?: unknown): Promise<Response> {
      const token = signIdentitySync(s.config.internalSecret, {
        auth_type: 'api_key',
        sub: DEV_USER_ID,
        email: 'dev@gaia.local',
        admin: true,
        rid: crypto.randomUUID(),
        ip: '127.0.0.1',
      });
      return Promise.resolve(
        kb2.handle(
          new Request(`http://kb${path}`, {
            method,
            headers: { [IDENTITY_HEADER]: token, 'content-type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
          }),
        ),
      );
    }
    const put1 = (path: string, content: string) =>
      s.dev(`/api/v1/kb/files/${path}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ content }),
      });
    const put2 = (path: string, content: string) => viaKb2('PUT', `/api/v1/kb/files/${path}`, { content });

    test('a write through either instance is readable and searchable through the other within 5 s', async () => {
      expect((await put1('notes/one.md', '# One\nalbatross first\n')).status).toBe(201);
      const on2 = await eventually(async () => {
        const r = await viaKb2('GET', '/api/v1/kb/search?q=albatross');
        const b = await r.json();
        return b.total === 1 ? b : undefined;
      }, 5000);
      expect(on2.results[0].path).toBe('notes/one.md');
      expect((await viaKb2('GET', '/api/v1/kb/files/notes/one.md')).status).toBe(200);

      expect((await put2('notes/two.md', '# Two\ncormorant second\n')).status).toBe(201);
      const on1 = await eventually(async () => {
        const b = await (await s.dev('/api/v1/kb/search?q=cormorant')).json();
        return b.total === 1 ? b : undefined;
      }, 5000);
      expect(on1.results[0].path).toBe('notes/two.md');
    }, 30_000);

    test('concurrent writes to different files on both instances all survive', async () => {
      const writes = await Promise.all([
        ...[1, 2, 3].map((i) => put1(`notes/a${i}.md`, `# a${i}\npelican ${i}\n`)),
        ...[1, 2, 3].map((i) => put2(`notes/b${i}.md`, `# b${i}\npelican ${i}\n`)),
      ]);
      for (const w of writes) expect(w.status).toBe(201);
      for (const check of [
        async () => (await s.dev('/api/v1/kb/search?q=pelican&limit=50')).json(),
        async () => (await viaKb2('GET', '/api/v1/kb/search?q=pelican&limit=50')).json(),
      ]) {
        await eventually(async () => ((await check()).total === 6 ? true : undefined), 15_000);
      }
      const clone = mkdtempSync(join(tmpdir(), 'gaia-kb-verify-'));
      await eventually(async () => {
        rmSync(clone, { recursive: true, force: true });
        await gitCli(tmpdir(), 'clone', '-q', remote.authedUrl, clone);
        const files = await gitCli(clone, 'ls-files', 'notes');
        return ['a1', 'a2', 'a3', 'b1', 'b2', 'b3'].every((n) => files.includes(`notes/${n}.md`))
          ? true
          : undefined;
      }, 15_000);
      rmSync(clone, { recursive: true, force: true });
    }, 30_000);

    test('the same file written on both leaves a conflict copy and loses nothing', async () => {
      expect((await put1('notes/same.md', '# Same\nfrom one\n')).status).toBe(201);
      expect((await put2('notes/same.md', '# Same\nfrom two\n')).status).toBe(201);
      // Both texts end up on both instances: one at the path, the other in a `.remote-<sha>.md` copy.
      for (const list of [
        async () => (await s.dev('/api/v1/kb/list?path=notes')).json(),
        async () => (await viaKb2('GET', '/api/v1/kb/list?path=notes')).json(),
      ]) {
        await eventually(async () => {
          const l = await list();
          return l.files.some((f: { name: string }) => /^same\.remote-[0-9a-f]{7}\.md$/.test(f.name))
            ? true
            : undefined;
        }, 15_000);
      }
      const texts = await eventually(async () => {
        const l = await (await s.dev('/api/v1/kb/list?path=notes')).json();
        const names = l.files
          .map((f: { name: string }) => f.name)
          .filter((n: string) => n.startsWith('same'));
        const contents: string[] = [];
        for (const n of names)
          contents.push((await (await s.dev(`/api/v1/kb/files/notes/${n}`)).json()).content);
        return contents.join('\n');
      });
      expect(texts).toContain('from one');
      expect(texts).toContain('from two');
    }, 30_000);
  });
}
