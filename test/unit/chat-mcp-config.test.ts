/**
 * Reading GAIA_MCP_SERVERS: a JSON file or inline JSON in the `mcpServers` shape, `${VAR}` expanded from the
 * environment once at load, `{{user_id}}` header templates kept for per-call filling, and every mistake
 * stopping the start with a ConfigError that names the variable and never echoes a secret.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` in plain strings is the configuration syntax under test.
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fillHeaders, hasTemplates, resultText } from '../../services/chat/mcp/client.ts';
import { DEFAULT_TIMEOUT_MS, readMcpConfig } from '../../services/chat/mcp/config.ts';
import { offeredName } from '../../services/chat/mcp/tools.ts';
import { ConfigError } from '../../src/config.ts';
import type { User } from '../../src/http/service.ts';

const dir = mkdtempSync(join(tmpdir(), 'gaia-mcp-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const read = (servers: unknown, env: Record<string, string> = {}) =>
  readMcpConfig({ source: { GAIA_MCP_SERVERS: JSON.stringify(servers), ...env } });

function expectBad(servers: unknown, fragment: string, env: Record<string, string> = {}, secret?: string) {
  let err: unknown;
  try {
    read(servers, env);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  const e = err as ConfigError;
  expect(e.variable).toBe('GAIA_MCP_SERVERS');
  expect(e.message).toContain('GAIA_MCP_SERVERS');
  expect(e.message).toContain(fragment);
  if (secret) expect(e.message).not.toContain(secret);
}

describe('GAIA_MCP_SERVERS', () => {
  test('unset or blank → no servers', () => {
    expect(readMcpConfig({ source: {} })).toEqual([]);
    expect(readMcpConfig({ source: { GAIA_MCP_SERVERS: '  ' } })).toEqual([]);
  });

  test('inline JSON: stdio and HTTP servers with their defaults, in file order', () => {
    const servers = read({
      mcpServers: {
        fs: { command: 'npx', args: ['-y', 'server-filesystem', '/srv'], env: { A: '1' }, cwd: '/tmp' },
        github: {
          url: 'https://mcp.example.com/mcp',
          headers: { 'x-user': '{{user_id}}' },
          timeout_ms: 5000,
        },
        slow: { command: 'srv', timeout_ms: 120000 },
      },
    });
    expect(servers).toEqual([
      {
        name: 'fs',
        transport: 'stdio',
        timeoutMs: DEFAULT_TIMEOUT_MS,
        command: 'npx',
        args: ['-y', 'server-filesystem', '/srv'],
        env: { A: '1' },
        cwd: '/tmp',
      },
      {
        name: 'github',
        transport: 'http',
        timeoutMs: 5000,
        url: 'https://mcp.example.com/mcp',
        headers: { 'x-user': '{{user_id}}' },
      },
      {
        name: 'slow',
        transport: 'stdio',
        timeoutMs: 120000,
        command: 'srv',
        args: [],
        env: {},
        cwd: undefined,
      },
    ]);
    expect(DEFAULT_TIMEOUT_MS).toBe(30_000);
  });

  test('a path to a JSON file is read; `disabled` servers are skipped; `type` is accepted when it agrees', () => {
    const file = join(dir, 'mcp.json');
    writeFileSync(
      file,
      JSON.stringify({
        mcpServers: {
          a: { type: 'stdio', command: 'x' },
          b: { type: 'http', url: 'http://127.0.0.1:9/mcp' },
          c: { command: 'y', disabled: true },
        },
      }),
    );
    const servers = readMcpConfig({ source: { GAIA_MCP_SERVERS: file } });
    expect(servers.map((s) => [s.name, s.transport])).toEqual([
      ['a', 'stdio'],
      ['b', 'http'],
    ]);
  });

  test('${VAR} and ${VAR:-default} expand from the environment at load; {{templates}} stay', () => {
    const [s, h] = read(
      {
        mcpServers: {
          s: {
            command: '${BIN}',
            args: ['--token=${TOKEN}', '${MISSING:-fallback}'],
            env: { K: '${TOKEN}' },
          },
          h: {
            url: 'https://${HOST}/mcp',
            headers: {
              authorization: 'Bearer ${TOKEN}',
              'x-user-id': '{{user_id}}',
              'x-mail': '{{ user_email }}',
            },
          },
        },
      },
      { BIN: '/usr/bin/srv', TOKEN: 'tok-123', HOST: 'mcp.example.com' },
    );
    expect(s).toMatchObject({
      command: '/usr/bin/srv',
      args: ['--token=tok-123', 'fallback'],
      env: { K: 'tok-123' },
    });
    expect(h).toMatchObject({
      url: 'https://mcp.example.com/mcp',
      headers: { authorization: 'Bearer tok-123', 'x-user-id': '{{user_id}}', 'x-mail': '{{ user_email }}' },
    });
  });

  test('an unset ${VAR} without a default stops the start, naming the variable and server', () => {
    expectBad({ mcpServers: { gh: { url: 'https://x/mcp', headers: { a: '${NOPE}' } } } }, 'NOPE');
    expectBad({ mcpServers: { gh: { url: 'https://x/mcp', headers: { a: '${NOPE}' } } } }, 'server "gh"');
  });

  test('bad files and shapes', () => {
    let err: unknown;
    try {
      readMcpConfig({ source: { GAIA_MCP_SERVERS: join(dir, 'missing.json') } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('GAIA_MCP_SERVERS');

    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"mcpServers": {"a": {"command": "sk-secret-in-file"');
    err = undefined;
    try {
      readMcpConfig({ source: { GAIA_MCP_SERVERS: broken } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('not valid JSON');
    expect((err as Error).message).not.toContain('sk-secret-in-file');

    expectBad([], '"mcpServers"');
    expectBad({ servers: {} }, '"mcpServers"');
    expectBad({ mcpServers: [] }, '"mcpServers"');
  });

  test('server names: lowercase, digits, "-", 1–32 characters', () => {
    for (const bad of ['GitHub', '-x', 'a_b', 'a b', '', 'x'.repeat(33), 'a__b'])
      expectBad({ mcpServers: { [bad]: { command: 'x' } } }, 'bad server name');
    expect(
      read({ mcpServers: { ['a'.repeat(32)]: { command: 'x' }, '0-9': { command: 'x' } } }),
    ).toHaveLength(2);
  });

  test('each entry is exactly one of a command or a URL, with well-typed fields', () => {
    expectBad({ mcpServers: { a: {} } }, 'exactly one of');
    expectBad({ mcpServers: { a: { command: 'x', url: 'https://x' } } }, 'exactly one of');
    expectBad({ mcpServers: { a: 'npx' } }, 'must be an object');
    expectBad({ mcpServers: { a: { command: '' } } }, '"command"');
    expectBad({ mcpServers: { a: { command: 'x', args: 'y' } } }, '"args"');
    expectBad({ mcpServers: { a: { command: 'x', args: [1] } } }, '"args"');
    expectBad({ mcpServers: { a: { command: 'x', env: { A: 1 } } } }, '"env"');
    expectBad({ mcpServers: { a: { command: 'x', cwd: 3 } } }, '"cwd"');
    expectBad({ mcpServers: { a: { url: 'ftp://x/mcp' } } }, '"url"');
    expectBad({ mcpServers: { a: { url: 'localhost:3000/mcp' } } }, '"url"');
    expectBad({ mcpServers: { a: { url: 'https://x', headers: { a: 1 } } } }, '"headers"');
    expectBad({ mcpServers: { a: { url: 'https://x', headers: { 'bad header': 'v' } } } }, 'header name');
    expectBad({ mcpServers: { a: { url: 'https://x', type: 'sse' } } }, 'not supported');
    expectBad({ mcpServers: { a: { command: 'x', type: 'http' } } }, 'does not go with');
    expectBad({ mcpServers: { a: { command: 'x', disabled: 'yes' } } }, '"disabled"');
    for (const t of [0, -1, 1.5, '100', 600_001])
      expectBad({ mcpServers: { a: { command: 'x', timeout_ms: t } } }, '"timeout_ms"');
  });

  test('a misspelt field stops the start rather than silently dropping it (headers on stdio too)', () => {
    expectBad(
      { mcpServers: { a: { url: 'https://x', header: { authorization: 'sk-x' } } } },
      'unknown field "header"',
    );
    expectBad({ mcpServers: { a: { command: 'x', headers: {} } } }, 'unknown field "headers"');
    expectBad({ mcpServers: { a: { url: 'https://x', env: {} } } }, 'unknown field "env"');
  });

  test('secret values never appear in messages', () => {
    const secret = 'sk-live-abcdef0123456789';
    expectBad(
      { mcpServers: { a: { url: 'https://x', headers: { 'bad header': secret } } } },
      'header',
      {},
      secret,
    );
    expectBad({ mcpServers: { a: { command: 'x', args: [secret, 1] } } }, '"args"', {}, secret);
  });
});

describe('names and templates', () => {
  const user: User = {
    id: 'u-42',
    email: 'ada@example.com',
    name: null,
    admin: false,
    authType: 'jwt',
    sessionId: null,
    keyId: null,
  };

  test('tools are offered as <server>__<tool>, model-safe and cut to 64 characters', () => {
    expect(offeredName('github', 'search_issues')).toBe('github__search_issues');
    expect(offeredName('fs', 'read.file/v2')).toBe('fs__read_file_v2');
    const long = offeredName('srv', 'a'.repeat(100));
    expect(long).toHaveLength(64);
    expect(long.startsWith('srv__aaa')).toBe(true);
    expect(long).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
  });

  test('header templates are filled from the identity; a missing email is empty; no line breaks get through', () => {
    const h = { 'x-user-id': '{{user_id}}', 'x-mail': 'mail={{ user_email }}', fixed: 'Bearer t' };
    expect(hasTemplates(h)).toBe(true);
    expect(hasTemplates({ fixed: 'Bearer t' })).toBe(false);
    expect(fillHeaders(h, user)).toEqual({
      'x-user-id': 'u-42',
      'x-mail': 'mail=ada@example.com',
      fixed: 'Bearer t',
    });
    expect(fillHeaders(h, { ...user, email: null })['x-mail']).toBe('mail=');
    expect(fillHeaders({ a: '{{user_id}}' }, { ...user, id: 'x\r\nEvil: 1' }).a).toBe('xEvil: 1');
  });

  test('result text: text parts joined, embedded text resources kept, other media named', () => {
    expect(
      resultText({
        content: [
          { type: 'text', text: 'one' },
          { type: 'text', text: 'two' },
          { type: 'resource', resource: { uri: 'file:///a', text: 'three' } },
          { type: 'image', data: 'AAAA', mimeType: 'image/png' },
        ],
      }),
    ).toBe('one\ntwo\nthree\n[image]');
    expect(resultText({ content: [], structuredContent: { n: 1 } })).toBe('{"n":1}');
  });
});
