/**
 * The MCP servers an operator lets chat models use, read from `GAIA_MCP_SERVERS`: a path to a JSON file or
 * the JSON itself, in the `{"mcpServers": {...}}` shape desktop MCP clients use, so an existing file can be
 * reused. Only the operator configures servers: a command is code Gaia runs and a URL is a place Gaia
 * connects to, so neither may ever come from a request.
 *
 * `${VAR}` (and `${VAR:-default}`) in any string is expanded from the environment once, here, while the file
 * is loaded; nothing read later (tool arguments, results, identities) is ever expanded. `{{user_id}}` and
 * `{{user_email}}` in an HTTP server's headers are left in place and filled per call by the client.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Config, ConfigError, type Env, Reader } from '../../../src/config.ts';

const VAR = 'GAIA_MCP_SERVERS';
export const SERVER_NAME_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;
export const DEFAULT_TIMEOUT_MS = 30_000;
/** A call may wait at most this long, whatever the file says: a chat turn cannot wait for hours. */
const MAX_TIMEOUT_MS = 600_000;

interface ServerBase {
  name: string;
  /** Per-call (and connect) timeout. */
  timeoutMs: number;
}

export interface StdioServerConfig extends ServerBase {
  transport: 'stdio';
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
}

export interface HttpServerConfig extends ServerBase {
  transport: 'http';
  url: string;
  /** Header values may hold `{{user_id}}` / `{{user_email}}`, filled per call. */
  headers: Record<string, string>;
}

export type McpServerConfig = StdioServerConfig | HttpServerConfig;

const STDIO_KEYS = new Set(['type', 'command', 'args', 'env', 'cwd', 'timeout_ms', 'disabled']);
const HTTP_KEYS = new Set(['type', 'url', 'headers', 'timeout_ms', 'disabled']);
const HTTP_TYPES = new Set(['http', 'streamable-http', 'streamablehttp']);

/** The configured servers, in file order; [] when the variable is unset. Throws ConfigError when bad. */
export function readMcpConfig(config: Pick<Config, 'source'>): McpServerConfig[] {
  const raw = new Reader(config.source).str(VAR);
  if (raw === undefined) return [];
  let text = raw;
  if (!raw.startsWith('{') && !raw.startsWith('[')) {
    try {
      text = readFileSync(resolve(raw), 'utf8');
    } catch {
      throw new ConfigError(VAR, `names a file that cannot be read (${raw})`);
    }
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    // The parser's message names a position, never the content (which may hold tokens).
    throw new ConfigError(VAR, `is not valid JSON: ${(err as Error).message}`);
  }
  return parseMcpServers(doc, config.source);
}

/** Validates an already parsed document; `env` feeds `${VAR}` expansion. */
export function parseMcpServers(doc: unknown, env: Env): McpServerConfig[] {
  if (!isObject(doc) || !isObject(doc.mcpServers))
    throw new ConfigError(VAR, 'must be a JSON object with an "mcpServers" object');
  const out: McpServerConfig[] = [];
  for (const [name, entry] of Object.entries(doc.mcpServers)) {
    const where = `server "${name}"`;
    if (!SERVER_NAME_RE.test(name))
      throw new ConfigError(
        VAR,
        `has a bad server name "${name.slice(0, 40)}" (lowercase letters, digits and "-", at most 32)`,
      );
    if (!isObject(entry)) throw new ConfigError(VAR, `${where} must be an object`);
    if (entry.disabled === true) continue;
    if (entry.disabled !== undefined && typeof entry.disabled !== 'boolean')
      throw new ConfigError(VAR, `${where}: "disabled" must be true or false`);
    const x = (v: string, field: string) => expandVars(v, env, `${where}: ${field}`);
    const type = entry.type === undefined ? undefined : String(entry.type).toLowerCase();
    const timeoutMs = readTimeout(entry.timeout_ms, where);
    const hasCommand = entry.command !== undefined;
    const hasUrl = entry.url !== undefined;
    if (hasCommand === hasUrl)
      throw new ConfigError(VAR, `${where} needs exactly one of "command" (stdio) or "url" (HTTP)`);

    if (hasCommand) {
      if (type !== undefined && type !== 'stdio')
        throw new ConfigError(VAR, `${where}: "type" "${type}" does not go with "command"`);
      unknownKeys(entry, STDIO_KEYS, where);
      if (typeof entry.command !== 'string' || entry.command.trim() === '')
        throw new ConfigError(VAR, `${where}: "command" must be a non-empty string`);
      const args = entry.args ?? [];
      if (!Array.isArray(args) || !args.every((a) => typeof a === 'string'))
        throw new ConfigError(VAR, `${where}: "args" must be an array of strings`);
      const envIn = entry.env ?? {};
      if (!isStringRecord(envIn))
        throw new ConfigError(VAR, `${where}: "env" must be an object of string values`);
      if (entry.cwd !== undefined && (typeof entry.cwd !== 'string' || entry.cwd === ''))
        throw new ConfigError(VAR, `${where}: "cwd" must be a non-empty string`);
      out.push({
        name,
        transport: 'stdio',
        timeoutMs,
        command: x(entry.command, 'command'),
        args: args.map((a, i) => x(a, `args[${i}]`)),
        env: Object.fromEntries(Object.entries(envIn).map(([k, v]) => [k, x(v, `env.${k}`)])),
        cwd: entry.cwd === undefined ? undefined : resolve(x(entry.cwd, 'cwd')),
      });
      continue;
    }

    if (type !== undefined && !HTTP_TYPES.has(type))
      throw new ConfigError(
        VAR,
        `${where}: "type" "${type}" is not supported (stdio or Streamable HTTP servers only)`,
      );
    unknownKeys(entry, HTTP_KEYS, where);
    if (typeof entry.url !== 'string') throw new ConfigError(VAR, `${where}: "url" must be a string`);
    const url = x(entry.url, 'url');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError(VAR, `${where}: "url" must be an absolute http:// or https:// URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new ConfigError(VAR, `${where}: "url" must be an absolute http:// or https:// URL`);
    const headers = entry.headers ?? {};
    if (!isStringRecord(headers))
      throw new ConfigError(VAR, `${where}: "headers" must be an object of string values`);
    const expanded: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k))
        throw new ConfigError(VAR, `${where}: "${k.slice(0, 40)}" is not a valid header name`);
      expanded[k] = x(v, `headers.${k}`);
    }
    out.push({ name, transport: 'http', timeoutMs, url, headers: expanded });
  }
  return out;
}

/**
 * `${NAME}` → the variable's value, `${NAME:-fallback}` → the fallback when unset or empty. A variable that is
 * unset without a fallback stops the start: a server silently reached without its token is worse. `$$`
 * is not special; only the braced form expands.
 */
export function expandVars(text: string, env: Env, where: string): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, dflt?: string) => {
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (dflt !== undefined) return dflt;
    throw new ConfigError(VAR, `${where} uses \${${name}}, which is not set`);
  });
}

function readTimeout(v: unknown, where: string): number {
  if (v === undefined) return DEFAULT_TIMEOUT_MS;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_TIMEOUT_MS)
    throw new ConfigError(VAR, `${where}: "timeout_ms" must be a whole number from 1 to ${MAX_TIMEOUT_MS}`);
  return v;
}

function unknownKeys(entry: Record<string, unknown>, allowed: Set<string>, where: string): void {
  // A misspelt "header" would silently drop a server's credentials; better to stop and say so.
  for (const k of Object.keys(entry))
    if (!allowed.has(k)) throw new ConfigError(VAR, `${where} has an unknown field "${k.slice(0, 40)}"`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return isObject(v) && Object.values(v).every((s) => typeof s === 'string');
}
