/**
 * SIGTERM drains (DESIGN.md, issue 2): a stream in flight when the process is told to stop runs to its
 * terminator, new connections are refused, and the process then exits 0 after closing the database.
 */
import { afterAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dir, '..', '..');
const DEV_API_KEY = 'FJUeDkZRy0uPp7cYtavMsIfwi7weF9-RT7BeOlusqnE';
const dir = mkdtempSync(join(tmpdir(), 'gaia-drain-'));
let proc: ReturnType<typeof Bun.spawn> | undefined;

afterAll(async () => {
  if (proc && proc.exitCode === null) proc.kill('SIGKILL');
  await proc?.exited;
  rmSync(dir, { recursive: true, force: true });
});

function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
  const port = s.port!;
  s.stop(true);
  return port;
}

test('a stream in flight at SIGTERM finishes, then the process exits 0', async () => {
  const port = freePort();
  proc = Bun.spawn([process.execPath, 'wiring/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      GAIA_ENV: 'development',
      GAIA_DATA_DIR: dir,
      GATEWAY_PORT: String(port),
      WEB_PORT: String(freePort()),
      HOST: '127.0.0.1',
      // The offline provider streams ~20 deltas; 40 ms apart the reply takes most of a second.
      LOCAL_LLM_DELAY_MS: '40',
      LOG_LEVEL: 'warn',
    },
    stdout: 'ignore',
    stderr: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/health/ready`)).status === 200) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error('Gaia did not become ready');
    await Bun.sleep(50);
  }

  const res = await fetch(`${url}/api/v0.3/chat`, {
    method: 'POST',
    headers: { 'X-API-Key': DEV_API_KEY },
    body: JSON.stringify({ message: 'drain test', stream: true }),
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = dec.decode((await reader.read()).value);
  expect(text).toStartWith('data: {"type": "metadata"');

  proc.kill('SIGTERM');
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += dec.decode(value, { stream: true });
  }
  expect(text).toContain('data: {"type": "content"');
  expect(text.endsWith('data: {"type": "done", "finish_reason": "stop"}\n\ndata: [DONE]\n\n')).toBe(true);
  expect(await proc.exited).toBe(0);
}, 30_000);
