/**
 * What a Gaia on the embedded defaults carries: libraries for features it is not configured to use (the MCP
 * SDK with its schema libraries, supabase-js, the Anthropic SDK, the NATS client) are loaded only when a
 * configuration or a first request needs them, which keeps about 20 MB off every idle process.
 */
import { afterAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dir, '..', '..');
const DEV_API_KEY = 'FJUeDkZRy0uPp7cYtavMsIfwi7weF9-RT7BeOlusqnE';
const dir = mkdtempSync(join(tmpdir(), 'gaia-footprint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
  const port = s.port!;
  s.stop(true);
  return port;
}

test('on the defaults, unused SDKs stay unloaded until a request needs one', async () => {
  const port = freePort();
  const proc = Bun.spawn(
    [process.execPath, '--preload', join(ROOT, 'test/support/loaded-packages.ts'), 'wiring/main.ts'],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? dir,
        GAIA_ENV: 'development',
        GAIA_DATA_DIR: join(dir, 'data'),
        HOST: '127.0.0.1',
        GATEWAY_PORT: String(port),
        WEB_PORT: String(freePort()),
      },
      stdout: 'ignore',
      stderr: 'pipe',
    },
  );
  const reader = proc.stderr.getReader();
  let err = '';
  const nextLoaded = async (): Promise<string[]> => {
    proc.kill('SIGUSR2');
    const deadline = Date.now() + 10_000;
    for (;;) {
      const at = err.indexOf('LOADED_PACKAGES ');
      const end = err.indexOf('\n', at);
      if (at >= 0 && end > at) {
        const line = err.slice(at + 'LOADED_PACKAGES '.length, end);
        err = err.slice(end + 1);
        return JSON.parse(line) as string[];
      }
      if (Date.now() > deadline) throw new Error(`no package list; stderr: ${err}`);
      const { value, done } = await reader.read();
      if (done) throw new Error(`Gaia exited; stderr: ${err}`);
      err += new TextDecoder().decode(value);
    }
  };
  try {
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      const ok = await fetch(`${url}/health`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (i > 200) throw new Error('Gaia did not become healthy');
      await Bun.sleep(50);
    }
    const idle = await nextLoaded();
    // Loaded: what every request uses.
    for (const p of ['elysia', 'drizzle-orm', 'openai', 'prom-client']) expect(idle).toContain(p);
    for (const p of [
      '@modelcontextprotocol/sdk',
      '@supabase/supabase-js',
      '@anthropic-ai/sdk',
      '@nats-io/nats-core',
    ])
      expect(idle).not.toContain(p);

    // The KB's MCP endpoint loads the MCP SDK on its first request, and answers it.
    const res = await fetch(`${url}/api/v1/kb/mcp`, {
      method: 'POST',
      headers: { 'x-api-key': DEV_API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    expect(res.status).toBe(200);
    const names = ((await res.json()) as { result: { tools: Array<{ name: string }> } }).result.tools.map(
      (t) => t.name,
    );
    expect(names).toContain('search_kb');
    expect(await nextLoaded()).toContain('@modelcontextprotocol/sdk');
  } finally {
    proc.kill('SIGKILL');
    await proc.exited;
  }
}, 30_000);
