/**
 * Structured logger: one JSON line per event (LOG_FORMAT=json, the production default) or a readable line per
 * service (pretty), coloured only on a terminal.
 * Fields that look like credentials are masked here, centrally, so a careless call site cannot leak them.
 */
import type { LogLevel } from './config.ts';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  service: string;
  level?: LogLevel;
  json?: boolean;
  /** ANSI colours in pretty lines (default: none). */
  color?: boolean;
  /** Where lines go; tests capture them to prove no secret is ever written. */
  sink?: (line: string, level: LogLevel) => void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const COLOURS: Record<string, string> = {
  gateway: '\x1b[36m',
  auth: '\x1b[35m',
  chat: '\x1b[32m',
  kb: '\x1b[33m',
  asset: '\x1b[34m',
  web: '\x1b[94m',
  db: '\x1b[90m',
  bus: '\x1b[90m',
};
const LEVEL_COLOURS: Record<LogLevel, string> = {
  debug: '\x1b[90m',
  info: '',
  warn: '\x1b[33m',
  error: '\x1b[31m',
};
const RESET = '\x1b[0m';

const SECRET_KEY = /pass(word)?|secret|token|authorization|api[_-]?key|key_hash|cookie|credential/i;
const JWT_SHAPE = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;
/**
 * drizzle's failed-query errors read `Failed query: <sql>\nparams: <values>`, and the values are key and
 * token hashes, emails and message text. The statement stays (it says what failed); the values never
 * reach a log line, whichever call site logged the error's message.
 */
const QUERY_PARAMS = /\nparams: [\s\S]*/;
/** Driver errors carry the bound values in these fields. */
const PARAM_KEYS = new Set(['params', 'parameters', 'args']);

const secretKeys = new Map<string, boolean>();
/** Whether a field name holds a secret; memoised, since the same few names recur on every line. */
function isSecretKey(k: string): boolean {
  let v = secretKeys.get(k);
  if (v === undefined) {
    // `key_id`, `session_id` and token *counts* are identifiers, not secrets.
    v = (SECRET_KEY.test(k) && !/(_id|Id|_count|tokens_used|_tokens)$/.test(k)) || PARAM_KEYS.has(k);
    if (secretKeys.size < 10_000) secretKeys.set(k, v);
  }
  return v;
}

/** A string with JWTs and failed-query values masked, for the few places that write without a Logger. */
export function redactText(value: string): string {
  // The regexes only run on strings that could hold a match: this is on every request's log line.
  const out = value.includes('eyJ') ? value.replace(JWT_SHAPE, '[jwt]') : value;
  return out.includes('\nparams: ') ? out.replace(QUERY_PARAMS, '\nparams: [redacted]') : out;
}

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value instanceof Error) return { name: value.name, message: scrub(value.message) };
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const k in value) {
    const v = (value as Record<string, unknown>)[k];
    out[k] = isSecretKey(k) ? '[redacted]' : scrub(v, depth + 1);
  }
  return out;
}

/**
 * stdout lines are batched and written once per event-loop turn: one write per request line was a
 * measurable share of the gateway's per-request cost. Warnings and errors go to stderr at once.
 */
let pending: string[] = [];
let scheduled = false;
function flushStdout(): void {
  scheduled = false;
  if (pending.length === 0) return;
  const out = pending.join('');
  pending = [];
  process.stdout.write(out);
}
process.on('exit', flushStdout);

function defaultSink(line: string, level: LogLevel): void {
  if (level === 'error' || level === 'warn') {
    flushStdout();
    process.stderr.write(`${line}\n`);
    return;
  }
  pending.push(`${line}\n`);
  if (pending.length >= 512) flushStdout();
  else if (!scheduled) {
    scheduled = true;
    setImmediate(flushStdout);
  }
}

/** The time as ISO 8601, formatted once per millisecond however many lines share it. */
let isoMs = 0;
let isoText = '';
function isoNow(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = new Date(now).toISOString();
  }
  return isoText;
}

export function createLogger(opts: LoggerOptions, bound: LogFields = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const sink = opts.sink ?? defaultSink;

  // A child bound to `service` writes under that label (all-in-one mode: one process, many services).
  const label = typeof bound.service === 'string' ? bound.service : opts.service;
  const { service: _s, ...boundFields } = bound;
  // Bound fields are scrubbed once, not on every line.
  const boundClean = scrub(boundFields) as LogFields;
  const boundExtras = Object.entries(boundClean)
    .map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('');
  const write = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (ORDER[level] < min) return;
    // One pass over the call's fields, masking as it goes: this runs for every request's line, so no
    // intermediate copies of the record.
    if (opts.json) {
      const record: LogFields = { ts: isoNow(), level, service: label, msg: redactText(msg), ...boundClean };
      if (fields) for (const k in fields) record[k] = isSecretKey(k) ? '[redacted]' : scrub(fields[k], 1);
      sink(JSON.stringify(record), level);
      return;
    }
    let extras = boundExtras;
    if (fields)
      for (const k in fields) {
        const v = isSecretKey(k) ? '[redacted]' : scrub(fields[k], 1);
        extras += ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
      }
    const time = isoNow().slice(11, 23);
    if (!opts.color) {
      sink(`${time} ${label.padEnd(7)} ${level.padEnd(5)} ${redactText(msg)}${extras}`, level);
      return;
    }
    const colour = COLOURS[label] ?? '';
    sink(
      `${time} ${colour}${label.padEnd(7)}${RESET} ${LEVEL_COLOURS[level]}${level.padEnd(5)}${RESET} ${redactText(msg)}${extras}`,
      level,
    );
  };

  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger(opts, { ...bound, ...fields }),
  };
}

/** A logger that writes nothing; for benchmarks and tests that assert on other output. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
