/**
 * The kb Git layer's edges that need no remote: accepted remote URL forms and the credentials each host
 * gets, the secret masker, and webhook signature checks for each Git host.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { conflictCopyName, isConflictCopy } from '../../services/kb/git/merge.ts';
import { createMasker, parseRemote } from '../../services/kb/git/remote.ts';
import { GitService } from '../../services/kb/git/service.ts';
import type { KbConfig } from '../../services/kb/types.ts';
import { MemoryBus } from '../../src/bus/memory.ts';
import { ConfigError } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';

describe('remote URL forms', () => {
  test('GitHub: https with or without .git, and SSH, all become the https .git URL; token is the user', () => {
    for (const raw of [
      'https://github.com/aeonia/kb',
      'https://github.com/aeonia/kb.git',
      'git@github.com:aeonia/kb.git',
    ]) {
      const r = parseRemote(raw, 'ghp_abc');
      expect(r.url).toBe('https://github.com/aeonia/kb.git');
      expect(r.host).toBe('github');
      expect(r.auth).toEqual({ username: 'ghp_abc' });
    }
    expect(parseRemote('ssh://git@github.com/aeonia/kb.git').url).toBe('https://github.com/aeonia/kb.git');
  });

  test('GitLab (nested groups) uses oauth2:<token>; Bitbucket x-token-auth:<token>', () => {
    const gl = parseRemote('git@gitlab.com:group/sub/kb.git', 'glpat-1');
    expect(gl.url).toBe('https://gitlab.com/group/sub/kb.git');
    expect(gl.auth).toEqual({ username: 'oauth2', password: 'glpat-1' });
    const bb = parseRemote('https://bitbucket.org/ws/kb', 'bbtok');
    expect(bb.url).toBe('https://bitbucket.org/ws/kb.git');
    expect(bb.auth).toEqual({ username: 'x-token-auth', password: 'bbtok' });
  });

  test('other HTTPS hosts keep their path; the token is the user; no token, no credentials', () => {
    expect(parseRemote('https://git.example.org/kb/repo', 'tk1')).toMatchObject({
      url: 'https://git.example.org/kb/repo',
      host: 'other',
      auth: { username: 'tk1' },
    });
    expect(parseRemote('https://git.example.org/kb/repo').auth).toBeNull();
  });

  test('embedded credentials are stripped from the stored URL and used only without a token', () => {
    const r = parseRemote('https://alice:p%40ss@git.example.org/kb.git');
    expect(r.url).toBe('https://git.example.org/kb.git');
    expect(r.auth).toEqual({ username: 'alice', password: 'p@ss' });
    expect(r.secrets).toContain('p@ss');
    const t = parseRemote('https://ghp_embedded@github.com/o/r.git', 'ghp_configured');
    expect(t.url).toBe('https://github.com/o/r.git');
    expect(t.auth).toEqual({ username: 'ghp_configured' });
    expect(t.secrets).toEqual(expect.arrayContaining(['ghp_configured', 'ghp_embedded']));
  });

  test('SSH to any other host, or a non-HTTP scheme, is a configuration error', () => {
    expect(() => parseRemote('git@git.example.org:kb.git')).toThrow(ConfigError);
    expect(() => parseRemote('ssh://git@git.example.org/kb.git')).toThrow(/KB_GIT_REPO_URL/);
    expect(() => parseRemote('ftp://example.org/kb')).toThrow(ConfigError);
    expect(() => parseRemote('not a url')).toThrow(ConfigError);
  });

  test('a GitService with an unsupported remote fails at construction', () => {
    expect(
      () =>
        new GitService({
          config: kbConfig({ gitRepoUrl: 'git@selfhosted.example:kb.git' }),
          log: silentLogger,
          bus: new MemoryBus(),
        }),
    ).toThrow(ConfigError);
  });
});

describe('masker', () => {
  test('hides the token raw, URL-encoded and in Basic auth, and any user:pass@ in URLs', () => {
    const token = 'ghp_A/b+c=1';
    const mask = createMasker([token]);
    const basic = Buffer.from(`oauth2:${token}`).toString('base64');
    const text = `clone of https://x:y@host/r failed: ${token} ${encodeURIComponent(token)} Basic ${basic}`;
    const out = mask(text);
    expect(out).toBe('clone of https://***@host/r failed: *** *** Basic ***');
    expect(out).not.toContain(token);
  });

  test('with no secrets it still hides URL credentials and leaves other text alone', () => {
    const mask = createMasker([]);
    expect(mask('see http://tok@127.0.0.1:80/kb.git and a@b.c')).toBe(
      'see http://***@127.0.0.1:80/kb.git and a@b.c',
    );
  });
});

describe('conflict copy names', () => {
  test('the remote sha goes before the extension', () => {
    const sha = '1a2b3c4d5e6f';
    expect(conflictCopyName('a.md', sha)).toBe('a.remote-1a2b3c4.md');
    expect(conflictCopyName('c.json', sha)).toBe('c.remote-1a2b3c4.json');
    expect(conflictCopyName('Makefile', sha)).toBe('Makefile.remote-1a2b3c4');
    expect(isConflictCopy('notes/a.remote-1a2b3c4.md')).toBe(true);
    expect(isConflictCopy('notes/a.remote-xyz.md')).toBe(false);
  });
});

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function kbConfig(over: Partial<KbConfig> = {}): KbConfig {
  const root = mkdtempSync(join(tmpdir(), 'gaia-kb-hook-'));
  roots.push(root);
  return {
    path: join(root, 'kb'),
    gitBranch: 'main',
    autoClone: true,
    autoSync: true,
    syncIntervalS: 0,
    pushEnabled: false,
    committerName: 'KB Service',
    committerEmail: 'kb@gaia.dev',
    maxFileBytes: 10_485_760,
    mcpEnabled: true,
    ...over,
  };
}

describe('webhook', () => {
  const SECRET = 'whsec-Example-1';
  const svc = (secret: string | null = SECRET) =>
    new GitService({
      config: kbConfig({ webhookSecret: secret ?? undefined }),
      log: silentLogger,
      bus: new MemoryBus(),
    });
  const body = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
  const sign = (b: Uint8Array, secret = SECRET) =>
    `sha256=${createHmac('sha256', secret).update(b).digest('hex')}`;
  const push = body({ ref: 'refs/heads/main', after: 'abc' });
  const accepted = { status: 202, body: { status: 'accepted' } };
  const invalid = { status: 401, body: { detail: 'Invalid webhook signature' } };

  test('GitHub X-Hub-Signature-256', () => {
    const g = svc();
    expect(g.verifyWebhook(new Headers({ 'x-hub-signature-256': sign(push) }), push)).toEqual(accepted);
    expect(
      g.verifyWebhook(
        new Headers({ 'x-hub-signature-256': sign(push).toUpperCase().replace('SHA256', 'sha256') }),
        push,
      ),
    ).toEqual(accepted);
    expect(g.verifyWebhook(new Headers({ 'x-hub-signature-256': sign(push, 'wrong') }), push)).toEqual(
      invalid,
    );
    expect(g.verifyWebhook(new Headers({ 'x-hub-signature-256': 'sha256=zz' }), push)).toEqual(invalid);
    // The signature covers the exact bytes: a re-serialised body does not verify.
    const spaced = new TextEncoder().encode(
      JSON.stringify({ ref: 'refs/heads/main', after: 'abc' }, null, 1),
    );
    expect(g.verifyWebhook(new Headers({ 'x-hub-signature-256': sign(push) }), spaced)).toEqual(invalid);
  });

  test('GitHub ping answers pong; a push to another branch or a tag is ignored', () => {
    const g = svc();
    const ping = body({ zen: 'Keep it logically awesome.', hook_id: 1 });
    expect(
      g.verifyWebhook(new Headers({ 'x-hub-signature-256': sign(ping), 'x-github-event': 'ping' }), ping),
    ).toEqual({ status: 200, body: { status: 'pong' } });
    const ignored = { status: 200, body: { status: 'ignored', reason: 'branch' } };
    for (const ref of ['refs/heads/dev', 'refs/tags/v1', 'refs/heads/main-2']) {
      const b = body({ ref });
      expect(g.verifyWebhook(new Headers({ 'x-hub-signature-256': sign(b) }), b)).toEqual(ignored);
    }
  });

  test('GitLab X-Gitlab-Token', () => {
    const g = svc();
    expect(
      g.verifyWebhook(new Headers({ 'x-gitlab-token': SECRET, 'x-gitlab-event': 'Push Hook' }), push),
    ).toEqual(accepted);
    expect(g.verifyWebhook(new Headers({ 'x-gitlab-token': `${SECRET}x` }), push)).toEqual(invalid);
    expect(g.verifyWebhook(new Headers({ 'x-gitlab-token': '' }), push)).toEqual(invalid);
  });

  test('Bitbucket X-Hub-Signature with its push.changes payload', () => {
    const g = svc();
    const bb = body({
      push: { changes: [{ new: { type: 'branch', name: 'main' }, old: { type: 'branch', name: 'main' } }] },
    });
    expect(
      g.verifyWebhook(new Headers({ 'x-hub-signature': sign(bb), 'x-event-key': 'repo:push' }), bb),
    ).toEqual(accepted);
    const other = body({ push: { changes: [{ new: { type: 'branch', name: 'feature' }, old: null }] } });
    expect(g.verifyWebhook(new Headers({ 'x-hub-signature': sign(other) }), other).body).toEqual({
      status: 'ignored',
      reason: 'branch',
    });
    expect(g.verifyWebhook(new Headers({ 'x-hub-signature': sign(bb, 'nope') }), bb)).toEqual(invalid);
  });

  test('other hosts: X-Gaia-Signature; a body without a ref still pulls', () => {
    const g = svc();
    const b = new TextEncoder().encode('anything at all');
    expect(g.verifyWebhook(new Headers({ 'x-gaia-signature': sign(b) }), b)).toEqual(accepted);
    expect(g.verifyWebhook(new Headers({ 'x-gaia-signature': sign(b, 'x') }), b)).toEqual(invalid);
  });

  test('no signature → 401; no secret configured → 404; a body over 1 MB → 413', () => {
    expect(svc().verifyWebhook(new Headers(), push)).toEqual(invalid);
    expect(svc(null).verifyWebhook(new Headers({ 'x-hub-signature-256': sign(push) }), push).status).toBe(
      404,
    );
    const big = new Uint8Array(2 * 1024 * 1024).fill(32);
    expect(svc().verifyWebhook(new Headers({ 'x-hub-signature-256': sign(big) }), big)).toEqual({
      status: 413,
      body: { detail: 'Webhook body too large' },
    });
  });
});
