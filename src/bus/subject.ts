/**
 * What may go on the bus, shared by both transports so they reject exactly the same things:
 * subject syntax and matching, and the JSON payload codec.
 */
import type { BusPayload } from './types.ts';

export type BusErrorCode =
  | 'invalid_subject'
  | 'invalid_payload'
  | 'payload_too_large'
  | 'no_responders'
  | 'timeout'
  | 'disconnected'
  | 'closed';

export class BusError extends Error {
  override readonly name = 'BusError';
  constructor(
    readonly code: BusErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Matches the default `max_payload` of nats-server, so a payload that works in memory also fits on NATS. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;

const WHITESPACE = /\s/;
const utf8 = new TextDecoder();

/**
 * Tokens are non-empty and free of whitespace. `*` and `>` are only meaningful as whole tokens; a token that
 * merely contains one (`a*`) is refused rather than treated as a literal, because NATS and a reader would disagree
 * on what it means.
 */
export function isValidSubject(subject: string, opts: { wildcards?: boolean } = {}): boolean {
  if (typeof subject !== 'string' || subject.length === 0 || WHITESPACE.test(subject)) return false;
  const tokens = subject.split('.');
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.length === 0) return false;
    if (token === '*') {
      if (!opts.wildcards) return false;
    } else if (token === '>') {
      if (!opts.wildcards || i !== tokens.length - 1) return false;
    } else if (token.includes('*') || token.includes('>')) {
      return false;
    }
  }
  return true;
}

export function assertPublishSubject(subject: string): void {
  if (isValidSubject(subject)) return;
  const hint = isValidSubject(subject, { wildcards: true })
    ? ' (wildcards are only allowed when subscribing)'
    : '';
  throw new BusError('invalid_subject', `invalid subject for publish: ${JSON.stringify(subject)}${hint}`);
}

export function assertSubscribeSubject(subject: string): void {
  if (!isValidSubject(subject, { wildcards: true })) {
    throw new BusError('invalid_subject', `invalid subject for subscribe: ${JSON.stringify(subject)}`);
  }
}

/**
 * Compiles a (validated) subscription subject into a predicate over published subjects, so the pattern is split
 * once per subscription instead of once per message.
 */
export function subjectMatcher(pattern: string): (subject: string) => boolean {
  assertSubscribeSubject(pattern);
  if (!pattern.includes('*') && !pattern.includes('>')) return (subject) => subject === pattern;
  const want = pattern.split('.');
  return (subject) => {
    const got = subject.split('.');
    for (let i = 0; i < want.length; i++) {
      const w = want[i]!;
      if (w === '>') return got.length > i;
      if (i >= got.length) return false;
      if (w !== '*' && w !== got[i]) return false;
    }
    return got.length === want.length;
  };
}

export function subjectMatches(pattern: string, subject: string): boolean {
  return subjectMatcher(pattern)(subject);
}

/**
 * JSON.stringify silently turns functions, symbols, NaN and Map/Set/class instances into something else
 * (nothing, `null`, `{}`); a subscriber would then see a payload the publisher never meant. Refuse them instead.
 * `undefined` properties are still dropped, as usual for optional fields.
 */
function strictReplacer(key: string, value: unknown): unknown {
  switch (typeof value) {
    case 'function':
    case 'symbol':
      throw new TypeError(`${typeof value} at ${JSON.stringify(key)} is not JSON`);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${value} at ${JSON.stringify(key)} is not JSON`);
      return value;
    case 'object': {
      if (value === null || Array.isArray(value)) return value;
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        const kind = (value as object).constructor?.name ?? 'object';
        throw new TypeError(`${kind} at ${JSON.stringify(key)} is not a plain JSON object`);
      }
      return value;
    }
    default:
      return value;
  }
}

/** Serializes once at publish; the result is what every subscriber parses its own copy from. */
export function encodePayload(data: BusPayload): string {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new BusError('invalid_payload', 'payload must be a JSON object');
  }
  let json: string;
  try {
    json = JSON.stringify(data, strictReplacer);
  } catch (err) {
    throw new BusError('invalid_payload', `payload is not serializable: ${(err as Error).message}`, {
      cause: err,
    });
  }
  // The length check is a cheap lower bound on the UTF-8 size; only near the limit is the exact size needed.
  if (json.length > MAX_PAYLOAD_BYTES / 3 && Buffer.byteLength(json, 'utf8') > MAX_PAYLOAD_BYTES) {
    throw new BusError('payload_too_large', `payload exceeds ${MAX_PAYLOAD_BYTES} bytes`);
  }
  return json;
}

/** Parses a received payload; anything that is not a JSON object (a foreign publisher) is refused. */
export function decodePayload(raw: string | Uint8Array): BusPayload {
  const value: unknown = JSON.parse(typeof raw === 'string' ? raw : utf8.decode(raw));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BusError('invalid_payload', 'received payload is not a JSON object');
  }
  return value as BusPayload;
}
