/**
 * JSON body reading shared by every service: JSON is parsed whatever the
 * Content-Type says (Unity clients mislabel it), only multipart is refused, a UTF-8 BOM is skipped,
 * invalid JSON or UTF-8 is a 400, and prototype-polluting keys never survive parsing.
 */
import { HttpError } from './errors.ts';

const decoder = new TextDecoder('utf-8', { fatal: true });
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export const invalidJson = (): HttpError => new HttpError(400, 'Invalid JSON body');
export const unsupportedMedia = (): HttpError =>
  new HttpError(415, 'Unsupported media type: send application/json');

export function isMultipart(contentType: string | null): boolean {
  return !!contentType && contentType.toLowerCase().trimStart().startsWith('multipart/form-data');
}

/** Parses bytes as JSON; `undefined` for an empty body. */
export function parseJsonBytes(bytes: Uint8Array): unknown {
  if (bytes.byteLength === 0) return undefined;
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw invalidJson();
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidJson();
  }
  stripForbiddenKeys(value);
  return value;
}

/**
 * Removes keys that could reach object merging as prototype setters. Iterative, because a reviver
 * recurses and a deeply nested (but valid) body would overflow the stack.
 */
function stripForbiddenKeys(root: unknown): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (const item of v) if (typeof item === 'object' && item !== null) stack.push(item);
      continue;
    }
    for (const key of Object.keys(v)) {
      if (FORBIDDEN_KEYS.has(key)) delete (v as Record<string, unknown>)[key];
      else {
        const child = (v as Record<string, unknown>)[key];
        if (typeof child === 'object' && child !== null) stack.push(child);
      }
    }
  }
}

export async function readJsonBody(request: Request): Promise<unknown> {
  if (isMultipart(request.headers.get('content-type'))) throw unsupportedMedia();
  if (!request.body) return undefined;
  const bytes = new Uint8Array(await request.arrayBuffer());
  return parseJsonBytes(bytes);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
