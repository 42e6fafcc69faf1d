/**
 * Gaia killed with SIGKILL in the middle of writing, then started again on the same data.
 *
 * Gaia runs as a real child process (`bun wiring/main.ts`, all-in-one) on SQLite in a temp folder and, when
 * GAIA_TEST_DATABASE_URL is set, on PostgreSQL. The kill lands at an observable point of a running workload
 * (stream bytes received, a provider reply just finished, writes acknowledged, a provider task being polled)
 * plus a small random offset. After each restart:
 *
 * - chat: every turn the client saw finish (200 JSON, or the stream's `[DONE]`) is stored with its user message
 *   and the whole assistant text; a turn cut by the kill left at most its user message (the assistant message is
 *   one insert written after the provider finished, so it is all there or absent); no assistant message lacks the
 *   user message before it; the database opens, migrates and takes a new turn in the same conversation;
 * - kb: every acknowledged write reads back exactly, is in HEAD, no file is half-written, `git fsck` passes
 *   and the KB commits again;
 * - assets: acknowledged assets download with the SHA-256 recorded for them, every stored file is whole, the
 *   Meshy job picks up polling its task where it was, jobs that cannot be continued end `interrupted`, and no
 *   job keeps a budget reservation.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Subprocess } from 'bun';
import postgres from 'postgres';
import { FAKE_MESHY_KEY, type FakeMeshy, startFakeMeshy } from '../fakes/meshy.ts';
import { type FakeOpenAI, type OpenAIScript, startFakeOpenAI } from '../fakes/openai.ts';
import { dropTestDatabases, testBackends } from '../support/backends.ts';
import { DEV_API_KEY, DEV_USER_ID } from '../support/stack.ts';

const ROOT = join(import.meta.dir, '..', '..');
const procs: Subprocess[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await dropTestDatabases();
}, 30_000);

const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
const sha256 = (b: Uint8Array | string) => new Bun.CryptoHasher('sha256').update(b).digest('hex');

function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
  const port = s.port!;
  s.stop(true);
  return port;
}

interface Gaia {
  proc: Subprocess;
  url: string;
  output: Promise<string>;
  dev(path: string, init?: RequestInit): Promise<Response>;
}

/** Starts `bun wiring/main.ts` on `dataDir` and `databaseUrl`, and waits for a healthy /health. */
async function startGaia(
  dataDir: string,
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<Gaia> {
  const port = freePort();
  const proc = Bun.spawn([process.execPath, 'wiring/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? dataDir,
      GAIA_ENV: 'test',
      GAIA_DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      GATEWAY_PORT: String(port),
      WEB_PORT: String(freePort()),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  procs.push(proc);
  // Read as it comes, so a full pipe never blocks the child.
  const output = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]).then((p) =>
    p.join(''),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      if (r.status === 200) {
        const health = (await r.json()) as { database: { status: string } };
        // The database opened and every migration ran on what the kill left behind.
        expect(health.database.status).toBe('healthy');
        break;
      }
    } catch {
      // not listening yet
    }
    if (proc.exitCode !== null) throw new Error(`gaia exited ${proc.exitCode} at start:\n${await output}`);
    if (Date.now() > deadline) throw new Error(`gaia did not become healthy:\n${await output}`);
    await Bun.sleep(50);
  }
  const dev = (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('x-api-key', DEV_API_KEY);
    if (init.body) headers.set('content-type', 'application/json');
    return fetch(url + path, { ...init, headers });
  };
  return { proc, url, output, dev };
}

async function sigkill(g: Gaia): Promise<void> {
  g.proc.kill('SIGKILL');
  expect(await g.proc.exited).toBe(137);
}

/** Read-only look at the database between and after runs (both dialects, no parameters needed). */
async function withDb<T>(url: string, fn: (all: (q: string) => Promise<any[]>) => Promise<T>): Promise<T> {
  if (url.startsWith('sqlite:')) {
    const { Database } = await import('bun:sqlite');
    const db = new Database(url.slice('sqlite:'.length));
    try {
      return await fn(async (q) => db.query(q).all() as any[]);
    } finally {
      db.close();
    }
  }
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return await fn(async (q) => [...(await sql.unsafe(q))]);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

// ── chat ─────────────────────────────────────────────────────────────────────────────────────────────

interface Turn {
  client: number;
  user: string;
  stream: boolean;
  /** The conversation the turn was sent to (null: a new one). */
  sentTo: string | null;
  /** Set once the client saw the turn finish. */
  acked?: { conversationId: string; messageId: string; text: string };
  /** Stream bytes of assistant text seen so far. */
  seen: string;
}

type ChatKill = 'mid-stream' | 'mid-non-stream' | 'after-provider';

/** One chat turn; resolves when acknowledged, rejects when the connection dies. */
async function chatTurn(g: Gaia, turn: Turn, onDelta: () => void): Promise<void> {
  const res = await g.dev('/api/v1/chat', {
    method: 'POST',
    body: JSON.stringify({
      message: turn.user,
      model: 'gpt-4o-mini',
      stream: turn.stream,
      conversation_id: turn.sentTo,
    }),
  });
  if (!turn.stream) {
    const body = (await res.json()) as any;
    expect(res.status).toBe(200);
    turn.acked = {
      conversationId: body._metadata.conversation_id,
      messageId: body._metadata.message_id,
      text: body.choices[0].message.content,
    };
    return;
  }
  expect(res.status).toBe(200);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let conversationId = '';
  let messageId = '';
  let finish: string | null = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error('stream ended without [DONE]');
    buf += value;
    let cut = buf.indexOf('\n\n');
    while (cut !== -1) {
      const event = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      cut = buf.indexOf('\n\n');
      const data = event
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      if (data === '') continue;
      if (data === '[DONE]') {
        expect(finish).toBe('stop');
        turn.acked = { conversationId, messageId, text: turn.seen };
        return;
      }
      const ev = JSON.parse(data);
      if (ev.type === 'metadata') conversationId = ev.conversation_id;
      else if (ev.choices?.[0]?.delta?.content) {
        turn.seen += ev.choices[0].delta.content;
        onDelta();
      } else if (ev._metadata) {
        messageId = ev._metadata.message_id;
        finish = ev.choices[0].finish_reason;
      }
    }
  }
}

describe.each(testBackends().map((b) => [b.name, b] as const))('SIGKILL mid-write (%s)', (name, backend) => {
  test('chat: acknowledged turns are stored whole, cut turns leave no half-record', async () => {
    const oa: FakeOpenAI = await startFakeOpenAI();
    const dataDir = tempDir('gaia-kill-chat-');
    const dbUrl = await backend.databaseUrl();
    const env = { OPENAI_API_KEY: 'sk-fake-kill', OPENAI_BASE_URL: oa.url };
    // Every reply is unique, slow enough to be cut mid-stream, and known in full: a stored assistant message
    // must be one of these, whole.
    const scripted = new Set<string>();
    let replies = 0;
    const script = (): OpenAIScript => {
      const n = ++replies;
      const chunks = Array.from({ length: 10 }, (_, i) => `r${n}w${i} `);
      scripted.add(chunks.join(''));
      return { chunks, chunkDelayMs: rand(5, 20), delayMs: rand(10, 120) };
    };
    const turns: Turn[] = [];
    const inFlightAtKill: Turn[] = [];
    let g = await startGaia(dataDir, dbUrl, env);
    try {
      for (const mode of ['mid-stream', 'mid-non-stream', 'after-provider', 'mid-stream'] as ChatKill[]) {
        oa.reset();
        for (let i = 0; i < 400; i++) oa.enqueue(script());
        const ackedBefore = turns.filter((t) => t.acked).length;
        let stop = false;
        let killed = false;
        const failures: string[] = [];
        let fire!: () => void;
        const trigger = new Promise<void>((r) => {
          fire = r;
        });
        const minAcked = ackedBefore + rand(3, 8);
        const deltasWanted = rand(1, 8);
        const acked = () => turns.filter((t) => t.acked).length;
        // Two clients, each going on in its own conversations (a new one every few turns).
        const client = async (c: number) => {
          let conv: string | null = null;
          for (let i = 0; !stop; i++) {
            const turn: Turn = {
              client: c,
              user: `client ${c} turn ${i} ${crypto.randomUUID()}`,
              stream: (i + c) % 2 === 0,
              sentTo: i % 4 === 0 ? null : conv,
              seen: '',
            };
            turns.push(turn);
            let deltas = 0;
            if (mode === 'mid-non-stream' && !turn.stream && acked() >= minAcked)
              // The provider takes 60–320 ms for a reply (Gaia always streams from it): kill while it works.
              void Bun.sleep(rand(20, 60)).then(() => {
                if (!turn.acked) fire();
              });
            try {
              await chatTurn(g, turn, () => {
                deltas++;
                if (mode === 'mid-stream' && acked() >= minAcked && deltas >= deltasWanted) fire();
              });
            } catch (err) {
              // Only the kill may cut a turn; anything else before it is a failure of its own.
              if (!killed) failures.push(`${turn.user}: ${(err as Error).message}`);
            }
            if (!turn.acked) return;
            conv = turn.acked.conversationId;
          }
        };
        const running = [client(0), client(1)];
        if (mode === 'after-provider') {
          // Watch the fake: the moment a reply has been sent in full, Gaia is storing the assistant message and
          // answering; the kill lands in that window.
          void (async () => {
            const seen = new Set<unknown>();
            while (!stop) {
              for (const rec of oa.completions) {
                if (seen.has(rec) || acked() < minAcked) continue;
                seen.add(rec);
                void rec.done.then(() => Bun.sleep(rand(0, 3)).then(fire));
              }
              await Bun.sleep(1);
            }
          })();
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          trigger,
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`kill point ${mode} never reached`)), 20_000);
          }),
        ]);
        clearTimeout(timer);
        killed = true;
        await sigkill(g);
        stop = true;
        await Promise.all(running);
        expect(failures).toEqual([]);
        inFlightAtKill.push(...turns.filter((t) => !t.acked && !inFlightAtKill.includes(t)));
        expect(acked()).toBeGreaterThanOrEqual(minAcked);

        g = await startGaia(dataDir, dbUrl, env);
        await checkChat(dbUrl, name, turns, inFlightAtKill, scripted);
      }

      // The database takes a new turn, also in a conversation whose last turn was cut (its user message stays
      // unanswered, the new turn follows it).
      const cut = inFlightAtKill.find((t) => t.sentTo !== null);
      oa.enqueue(script());
      const next: Turn = {
        client: 9,
        user: `after ${crypto.randomUUID()}`,
        stream: true,
        sentTo: null,
        seen: '',
      };
      next.sentTo = cut?.sentTo ?? null;
      turns.push(next);
      await chatTurn(g, next, () => {});
      expect(next.acked?.text).toBeDefined();
      await checkChat(dbUrl, name, turns, inFlightAtKill, scripted);
      const total = turns.filter((t) => t.acked).length;
      console.log(
        `[sigkill chat ${name}] ${total} acknowledged turns, ${inFlightAtKill.length} cut by 4 kills`,
      );
    } finally {
      if (g.proc.exitCode === null) {
        g.proc.kill('SIGTERM');
        await g.proc.exited;
      }
      await oa.stop();
    }
  }, 120_000);
});

async function checkChat(
  dbUrl: string,
  backendName: string,
  turns: Turn[],
  cut: Turn[],
  scripted: Set<string>,
): Promise<void> {
  await withDb(dbUrl, async (all) => {
    // The development seed's own conversation (fixed ids) is not part of the workload.
    const seeded = (id: string) => id.startsWith('00000000-');
    const msgs = (
      await all(
        `SELECT id, conversation_id, seq, role, content, status, finish_reason FROM chat_messages WHERE user_id = '${DEV_USER_ID}'`,
      )
    ).filter((m) => !seeded(m.conversation_id));
    const convs = (
      await all(`SELECT id, preview FROM conversations WHERE user_id = '${DEV_USER_ID}'`)
    ).filter((c) => !seeded(c.id));
    const usage = await all(`SELECT message_id FROM llm_usage WHERE user_id = '${DEV_USER_ID}'`);
    const at = new Map(msgs.map((m) => [`${m.conversation_id}#${Number(m.seq)}`, m]));
    const byId = new Map(msgs.map((m) => [m.id, m]));
    const userTurns = new Map(turns.map((t) => [t.user, t]));

    // Every acknowledged turn: the user message, then the whole assistant text right after it.
    for (const t of turns.filter((x) => x.acked)) {
      const a = byId.get(t.acked!.messageId);
      expect(a, `acknowledged reply of "${t.user}"`).toBeDefined();
      expect({ role: a.role, status: a.status, content: a.content, conv: a.conversation_id }).toEqual({
        role: 'assistant',
        status: 'complete',
        content: t.acked!.text,
        conv: t.acked!.conversationId,
      });
      const u = at.get(`${a.conversation_id}#${Number(a.seq) - 1}`);
      expect({ role: u?.role, content: u?.content }).toEqual({ role: 'user', content: t.user });
    }
    for (const m of msgs) {
      if (m.role === 'assistant') {
        // No assistant message without its user message, none truncated, none flagged partial: the kill
        // leaves nothing alive to store a partial reply.
        const u = at.get(`${m.conversation_id}#${Number(m.seq) - 1}`);
        expect(u?.role, `message before assistant ${m.id}`).toBe('user');
        expect(scripted.has(m.content), `assistant text "${m.content}" is a whole reply`).toBe(true);
        expect(m.status).toBe('complete');
        expect(m.finish_reason).toBe('stop');
      } else {
        expect(m.role).toBe('user');
        const t = userTurns.get(m.content);
        expect(t, `user message "${m.content}" was sent`).toBeDefined();
        // A user message without a reply is only ever a turn the kill cut.
        const reply = at.get(`${m.conversation_id}#${Number(m.seq) + 1}`);
        if (reply?.role !== 'assistant') expect(cut.includes(t!), `unanswered "${m.content}"`).toBe(true);
      }
    }
    // Every message sent at most once.
    const contents = msgs.filter((m) => m.role === 'user').map((m) => m.content);
    expect(new Set(contents).size).toBe(contents.length);

    const withMessages = new Set(msgs.map((m) => m.conversation_id));
    const empty = convs.filter((c) => !withMessages.has(c.id));
    if (backendName === 'sqlite') {
      // On SQLite a new conversation and its first message are one transaction, and an assistant message,
      // the preview and its usage row another: all or nothing.
      expect(empty).toEqual([]);
      const usageOf = new Map<string, number>();
      for (const u of usage)
        if (u.message_id) usageOf.set(u.message_id, (usageOf.get(u.message_id) ?? 0) + 1);
      for (const m of msgs.filter((x) => x.role === 'assistant')) expect(usageOf.get(m.id)).toBe(1);
      for (const c of convs) {
        const last = msgs
          .filter((m) => m.conversation_id === c.id && m.role === 'assistant')
          .sort((a, b) => Number(b.seq) - Number(a.seq))[0];
        expect(c.preview).toBe(
          last
            ? Array.from(last.content as string)
                .slice(0, 100)
                .join('')
            : '',
        );
      }
    } else {
      // PostgreSQL writes those rows one statement at a time (no transaction on the hot path): a kill between
      // them can leave a conversation whose first message was never stored, at most one per cut new turn.
      expect(empty.length).toBeLessThanOrEqual(cut.filter((t) => t.sentTo === null).length);
    }
  });
}

// ── kb ───────────────────────────────────────────────────────────────────────────────────────────────

/** A markdown body of a few KB to some tens of KB, unique to `tag`. */
function markdown(tag: string): string {
  const lines = [`# ${tag}`, ''];
  const n = rand(20, 400);
  for (let i = 0; i < n; i++)
    lines.push(`Line ${i} of ${tag}: ${crypto.randomUUID()} lorem ipsum dolor sit amet.`);
  return `${lines.join('\n')}\n`;
}

function gitIn(dir: string, ...args: string[]): { code: number; out: string } {
  const r = Bun.spawnSync(['git', ...args], { cwd: dir, stdout: 'pipe', stderr: 'pipe' });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

describe.each(testBackends().map((b) => [b.name, b] as const))('SIGKILL mid-write (%s)', (name, backend) => {
  test('kb: acknowledged writes read back exactly, nothing is half-written, git stays sound', async () => {
    const dataDir = tempDir('gaia-kill-kb-');
    const dbUrl = await backend.databaseUrl();
    const kb = join(dataDir, 'kb');
    /** Every version sent per path, in order, and the last one acknowledged. */
    const sent = new Map<string, string[]>();
    const ackedAt = new Map<string, number>();
    let g = await startGaia(dataDir, dbUrl);
    try {
      for (let round = 0; round < 2; round++) {
        let stop = false;
        let killed = false;
        const failures: string[] = [];
        let acks = 0;
        const killAfter = rand(8, 20);
        let fire!: () => void;
        const trigger = new Promise<void>((r) => {
          fire = r;
        });
        // Writers 0 and 1 create new files; writer 2 rewrites one file over and over (old or new, never half).
        const writer = async (w: number) => {
          for (let i = 0; !stop; i++) {
            const path = w === 2 ? `burst/shared-${round}.md` : `burst/r${round}/w${w}/f${i}.md`;
            const content = markdown(`${path} v${i}`);
            const versions = sent.get(path) ?? [];
            versions.push(content);
            sent.set(path, versions);
            try {
              const res = await g.dev(`/api/v1/kb/files/${path}`, {
                method: 'PUT',
                body: JSON.stringify({ content, message: `write ${i}` }),
              });
              const body = await res.text();
              if (res.status !== 200 && res.status !== 201) {
                failures.push(`${path}: ${res.status} ${body}`);
                return;
              }
              ackedAt.set(path, versions.length - 1);
              if (++acks >= killAfter) void Bun.sleep(rand(0, 6)).then(fire);
            } catch (err) {
              if (!killed) failures.push(`${path}: ${(err as Error).message}`);
              return;
            }
          }
        };
        const running = [writer(0), writer(1), writer(2)];
        await trigger;
        killed = true;
        await sigkill(g);
        stop = true;
        await Promise.all(running);
        expect(failures).toEqual([]);

        // On disk, before anything repairs it: every file is a whole version that was sent, acknowledged
        // versions (or the one in flight after them) are there; only hidden temporary files may be left over.
        const strays: string[] = [];
        for (const file of walk(kb).filter((f) => !relative(kb, f).startsWith('.git'))) {
          const rel = relative(kb, file);
          if (rel.split('/').some((s) => s.startsWith('.'))) {
            expect(rel).toMatch(/(^|\/)\.[^/]+\.[0-9a-f]{12}\.tmp$/);
            strays.push(rel);
            continue;
          }
          if (!sent.has(rel)) continue;
          expect(sent.get(rel)!.includes(readFileSync(file, 'utf8')), `${rel} is a whole version`).toBe(true);
        }
        for (const [path, v] of ackedAt) {
          const versions = sent.get(path)!;
          const disk = readFileSync(join(kb, path), 'utf8');
          expect(
            versions.slice(v).includes(disk),
            `${path} holds its acknowledged version or a later one`,
          ).toBe(true);
          // Committed before it was acknowledged.
          const head = gitIn(kb, 'show', `HEAD:${path}`);
          expect(head.code).toBe(0);
          expect(versions.slice(v).includes(head.out), `HEAD:${path}`).toBe(true);
        }
        const fsck = gitIn(kb, 'fsck', '--full', '--strict');
        expect(fsck.code, fsck.out).toBe(0);

        g = await startGaia(dataDir, dbUrl);
        // Through the API: exactly the acknowledged version, or the one write after it that was in flight.
        for (const [path, v] of ackedAt) {
          const res = await g.dev(`/api/v1/kb/files/${path}`);
          expect(res.status).toBe(200);
          const file = (await res.json()) as { content: string };
          expect(sent.get(path)!.slice(v).includes(file.content), path).toBe(true);
        }
        const after = gitIn(kb, 'fsck', '--full', '--strict');
        expect(after.code, after.out).toBe(0);
        // Nothing the API serves differs from HEAD: a write cut between its file and its commit must not
        // linger as an uncommitted change.
        const status = gitIn(kb, 'status', '--porcelain', '--untracked-files=all');
        const visible = status.out
          .split('\n')
          .filter((l) => l.trim() !== '')
          .filter(
            (l) =>
              !l
                .slice(3)
                .split('/')
                .some((s) => s.startsWith('.')),
          );
        expect(visible).toEqual([]);
        console.log(
          `[sigkill kb ${name}] round ${round}: ${acks} acknowledged, ${strays.length} stray temp files`,
        );
      }
      // The KB commits again after the kills.
      const head = gitIn(kb, 'rev-parse', 'HEAD').out.trim();
      const res = await g.dev('/api/v1/kb/files/after/kill.md', {
        method: 'PUT',
        body: JSON.stringify({ content: '# After\nstill writing\n', message: 'after the kills' }),
      });
      expect(res.status).toBe(201);
      expect(gitIn(kb, 'rev-parse', 'HEAD^').out.trim()).toBe(head);
      expect(gitIn(kb, 'show', 'HEAD:after/kill.md').out).toBe('# After\nstill writing\n');
    } finally {
      if (g.proc.exitCode === null) {
        g.proc.kill('SIGTERM');
        await g.proc.exited;
      }
    }
  }, 120_000);
});

// ── assets ───────────────────────────────────────────────────────────────────────────────────────────

describe.each(testBackends().map((b) => [b.name, b] as const))('SIGKILL mid-write (%s)', (name, backend) => {
  test('assets: stored files are whole, a polling job resumes, the rest end interrupted, no reservation kept', async () => {
    const meshy: FakeMeshy = await startFakeMeshy();
    const dataDir = tempDir('gaia-kill-asset-');
    const dbUrl = await backend.databaseUrl();
    const storage = join(dataDir, 'assets');
    const env = {
      MESHY_API_KEY: FAKE_MESHY_KEY,
      MESHY_API_BASE: meshy.url,
      MESHY_POLL_INTERVAL_MS: '100',
      // One slot for the Meshy job, one for the local burst; the rest wait as queued jobs.
      MAX_CONCURRENT_GENERATIONS: '2',
    };
    const request = (description: string, provider: string, wait: number) => ({
      method: 'POST',
      body: JSON.stringify({
        category: provider === 'meshy' ? 'prop' : 'image',
        style: 'fantasy',
        description,
        requirements: { platform: 'mobile_vr', quality: 'low' },
        preferences: { provider, max_wait_time_ms: wait, max_cost: 2 },
      }),
    });
    let g = await startGaia(dataDir, dbUrl, env);
    try {
      // A Meshy job polling its preview task when the kill comes.
      meshy.enqueueTask({ pollsBeforeDone: 12 }, { pollsBeforeDone: 2 });
      const mj = await g.dev('/api/v1/assets/generate', request('a mossy stone well', 'meshy', 0));
      expect(mj.status).toBe(202);
      const meshyJob = ((await mj.json()) as { job_id: string }).job_id;
      const deadline = Date.now() + 15_000;
      while (![...meshy.tasks.values()].some((t) => t.polls >= 2)) {
        if (Date.now() > deadline) throw new Error('the Meshy task was never polled');
        await Bun.sleep(20);
      }
      const task = [...meshy.tasks.values()][0]!;

      // Local images, acknowledged one after another, and the kill a few milliseconds after the K-th.
      const acked: string[] = [];
      const failures: string[] = [];
      let killed = false;
      let stop = false;
      const killAfter = rand(4, 9);
      let fire!: () => void;
      const trigger = new Promise<void>((r) => {
        fire = r;
      });
      const burst = async (w: number) => {
        for (let i = 0; !stop; i++) {
          try {
            const res = await g.dev(
              '/api/v1/assets/generate',
              request(`tile ${w}-${i} ${crypto.randomUUID()}`, 'local', 10_000),
            );
            const body = (await res.json()) as { asset_id?: string };
            if (res.status !== 200) {
              failures.push(`${res.status} ${JSON.stringify(body)}`);
              return;
            }
            acked.push(body.asset_id!);
            if (acked.length >= killAfter) void Bun.sleep(rand(0, 5)).then(fire);
          } catch (err) {
            if (!killed) failures.push((err as Error).message);
            return;
          }
        }
      };
      const running = [burst(0), burst(1), burst(2)];
      await trigger;
      killed = true;
      await sigkill(g);
      stop = true;
      await Promise.all(running);
      expect(failures).toEqual([]);
      const pollsAtKill = task.polls;
      const tasksAtKill = meshy.tasks.size;

      g = await startGaia(dataDir, dbUrl, env);
      // Acknowledged assets download whole: the bytes hash to the SHA-256 recorded for them (the ETag).
      for (const id of acked) {
        const res = await g.dev(`/api/v1/assets/${id}/file`);
        expect(res.status).toBe(200);
        const bytes = new Uint8Array(await res.arrayBuffer());
        expect(`"${sha256(bytes)}"`).toBe(res.headers.get('etag')!);
      }

      // Jobs end: the Meshy one resumes polling the same task once its dead owner's lease runs out, the
      // others (no provider task to go back to) fail as interrupted. Up to lease (15 s) + sweep (10 s).
      const jobs = async () =>
        withDb(dbUrl, (all) =>
          all(
            'SELECT id, status, provider, provider_task_id, reserved_micro_usd, cost_micro_usd, error FROM asset_jobs',
          ),
        );
      const until = Date.now() + 45_000;
      while ((await jobs()).some((j) => j.status === 'queued' || j.status === 'processing')) {
        if (Date.now() > until) throw new Error(`jobs still running: ${JSON.stringify(await jobs())}`);
        await Bun.sleep(250);
      }
      const rows = await jobs();
      for (const j of rows) {
        // No reservation outlives its job.
        expect(Number(j.reserved_micro_usd ?? 0), `job ${j.id}`).toBe(0);
        if (j.status === 'failed' && j.id !== meshyJob) {
          expect(json(j.error).type).toBe('interrupted');
          expect(Number(j.cost_micro_usd ?? 0)).toBe(0);
        }
      }
      const mrow = rows.find((j) => j.id === meshyJob)!;
      // Polling picked up the stored task (no new preview task was created), which ran on to its refine stage.
      expect(mrow.provider_task_id).toBeTruthy();
      expect(task.polls).toBeGreaterThan(pollsAtKill);
      expect([...meshy.tasks.values()].filter((t) => t.mode === 'preview')).toHaveLength(1);
      expect(meshy.tasks.size).toBeGreaterThanOrEqual(tasksAtKill);
      // The fake serves its result files from loopback, which Gaia's download policy refuses: in this test the
      // resumed job ends there, with its reservation released like any failure.
      expect({ status: mrow.status, type: json(mrow.error)?.type }).toEqual({
        status: 'failed',
        type: 'download_refused',
      });

      // Every asset row points at whole files; a file without a row is whole too (it was stored before its
      // row), and only temporary names may hold partial bytes.
      const assets = await withDb(dbUrl, (all) =>
        all('SELECT id, storage_key, size_bytes, sha256 FROM assets'),
      );
      for (const a of assets) {
        const bytes = readFileSync(join(storage, a.storage_key));
        expect({ size: bytes.byteLength, sha: sha256(bytes) }).toEqual({
          size: Number(a.size_bytes),
          sha: a.sha256,
        });
      }
      const files = walk(join(storage, 'generated'));
      const temps = files.filter((f) => /\.tmp-[0-9a-f-]{36}$/.test(f));
      const orphans = files.filter(
        (f) => !temps.includes(f) && !assets.some((a) => join(storage, a.storage_key) === f),
      );
      for (const f of orphans) expect(statSync(f).size).toBeGreaterThan(0);
      // At most the three in-flight local generations were between their file and their row.
      expect(orphans.length).toBeLessThanOrEqual(3);
      console.log(
        `[sigkill assets ${name}] ${acked.length} acknowledged, ${rows.length} jobs, ${orphans.length} files without a row, ${temps.length} temp files`,
      );
    } finally {
      if (g.proc.exitCode === null) {
        g.proc.kill('SIGTERM');
        await g.proc.exited;
      }
      await meshy.stop();
    }
  }, 120_000);
});
