/**
 * Downloads a provider's result file without letting the provider (or anyone who controls its answer) point Gaia
 * at internal hosts: https only, every resolved address must be public, the TCP connection goes to the address
 * that was checked (no second DNS lookup an attacker could answer differently), each redirect is checked again,
 * nothing identifying Gaia or the user is sent, and the body is cut off as soon as it exceeds the limit.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { ProviderError, type ProviderId } from '../types.ts';
import { isPublicAddress } from './address-policy.ts';

export { isPublicAddress } from './address-policy.ts';

/** The URL (or a redirect) points somewhere Gaia must not connect to. */
export class DownloadRefused extends Error {
  constructor(readonly reason: string) {
    super(`Download refused: ${reason}`);
    this.name = 'DownloadRefused';
  }
}

/** The file is bigger than allowed; the transfer was aborted. */
export class DownloadTooLarge extends Error {
  constructor(readonly limitBytes: number) {
    super(`Download exceeds ${limitBytes} bytes`);
    this.name = 'DownloadTooLarge';
  }
}

/** The download failed for an ordinary reason (status, network, timeout). */
export class DownloadFailed extends Error {
  constructor(
    readonly reason: string,
    readonly timedOut = false,
  ) {
    super(`Download failed: ${reason}`);
    this.name = 'DownloadFailed';
  }
}

export interface ResolvedAddress {
  address: string;
  family: number;
}

export interface SafeFetchOptions {
  maxBytes: number;
  /** Whole download, redirects included. Default 60 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Host name → every address it resolves to. Default: the system resolver, all addresses. */
  resolver?: (host: string) => Promise<ResolvedAddress[]>;
  /** Address policy. Default: only globally routable unicast addresses. */
  allowAddress?: (address: string, family: number) => boolean;
  maxRedirects?: number;
  /**
   * Tests only: trust this CA (a self-signed loopback server) or skip verification. Production never sets it;
   * the certificate is always checked against the URL's host name otherwise.
   */
  testTls?: { ca?: string; rejectUnauthorized?: boolean };
}

export interface SafeFetchResult {
  bytes: Uint8Array;
  contentType: string;
  /** The URL that finally answered (after redirects). */
  url: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

const defaultResolver = async (host: string): Promise<ResolvedAddress[]> =>
  dnsLookup(host, { all: true, verbatim: true });

function defaultAllow(address: string): boolean {
  return isPublicAddress(address);
}

/** Parses and vets one URL; returns the address to connect to. */
async function checkTarget(
  raw: string,
  resolver: NonNullable<SafeFetchOptions['resolver']>,
  allow: NonNullable<SafeFetchOptions['allowAddress']>,
): Promise<{ url: URL; address: string; family: number; host: string }> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DownloadRefused('not a valid URL');
  }
  if (url.protocol !== 'https:') throw new DownloadRefused(`scheme ${url.protocol} is not allowed`);
  if (url.username || url.password) throw new DownloadRefused('URLs with credentials are not allowed');
  // The URL parser has already turned numeric forms (`2130706433`, `0x7f.1`, `0`) into dotted IPv4.
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw new DownloadRefused('no host');
  const literal = isIP(host);
  let addresses: ResolvedAddress[];
  if (literal) {
    addresses = [{ address: host, family: literal }];
  } else {
    try {
      addresses = await resolver(host);
    } catch {
      throw new DownloadFailed(`host ${host} could not be resolved`);
    }
    if (addresses.length === 0) throw new DownloadFailed(`host ${host} has no address`);
  }
  // Every address must pass: the system could connect to any of them, and a mixed answer is itself suspicious.
  for (const a of addresses) {
    if (!allow(a.address, a.family))
      throw new DownloadRefused(`host ${host} resolves to a non-public address`);
  }
  const first = addresses[0]!;
  return { url, address: first.address, family: first.family, host };
}

interface Hop {
  res: IncomingMessage;
  abort: (err: Error) => void;
}

function request(
  target: { url: URL; address: string; family: number; host: string },
  signal: AbortSignal,
  testTls: SafeFetchOptions['testTls'],
): Promise<Hop> {
  return new Promise((resolve, reject) => {
    const { url, address, family, host } = target;
    const req = https.request({
      protocol: 'https:',
      host,
      port: url.port ? Number(url.port) : 443,
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      // SNI and certificate checks use the name; the socket goes to the checked address.
      servername: isIP(host) ? undefined : host,
      lookup: ((_h: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) => {
        if (opts?.all) cb(null, [{ address, family }]);
        else cb(null, address, family);
      }) as unknown as LookupFunction,
      agent: false,
      headers: { accept: '*/*', 'accept-encoding': 'identity', 'user-agent': 'gaia-asset-fetch/1' },
      ...(testTls?.ca ? { ca: testTls.ca } : {}),
      ...(testTls?.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
    });
    const onAbort = () => req.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(err);
    });
    req.on('response', (res) => {
      res.on('close', () => signal.removeEventListener('abort', onAbort));
      resolve({ res, abort: (err) => req.destroy(err) });
    });
    req.end();
  });
}

function readCapped(hop: Hop, maxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let done = false;
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      if (err) reject(err);
      else resolve(new Uint8Array(Buffer.concat(chunks, total)));
    };
    hop.res.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        const err = new DownloadTooLarge(maxBytes);
        hop.abort(err);
        finish(err);
        return;
      }
      chunks.push(chunk);
    });
    hop.res.on('end', () => finish(null));
    hop.res.on('error', (err) => finish(err));
    hop.res.on('close', () => finish(hop.res.complete ? null : new Error('connection closed early')));
  });
}

export async function safeFetch(url: string, opts: SafeFetchOptions): Promise<SafeFetchResult> {
  const resolver = opts.resolver ?? defaultResolver;
  const allow = opts.allowAddress ?? defaultAllow;
  const maxRedirects = opts.maxRedirects ?? 3;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;

  const wrap = (err: unknown): Error => {
    if (err instanceof DownloadRefused || err instanceof DownloadTooLarge || err instanceof DownloadFailed)
      return err;
    if (timeout.aborted) return new DownloadFailed(`timed out after ${Math.round(timeoutMs / 1000)} s`, true);
    if (opts.signal?.aborted)
      return opts.signal.reason instanceof Error ? opts.signal.reason : new Error('aborted');
    // Network errors are reported by kind only; their text can carry addresses that help nobody downstream.
    const code = (err as { code?: string } | null)?.code;
    return new DownloadFailed(code ? `network error ${code}` : 'network error');
  };

  let current = url;
  for (let hops = 0; ; hops++) {
    const target = await checkTarget(current, resolver, allow);
    if (signal.aborted) throw wrap(signal.reason);
    let hop: Hop;
    try {
      hop = await request(target, signal, opts.testTls);
    } catch (err) {
      throw wrap(err);
    }
    const status = hop.res.statusCode ?? 0;
    if (REDIRECTS.has(status)) {
      const location = hop.res.headers.location;
      hop.abort(new Error('redirect followed'));
      if (!location) throw new DownloadFailed(`HTTP ${status} without Location`);
      if (hops >= maxRedirects) throw new DownloadRefused(`more than ${maxRedirects} redirects`);
      try {
        current = new URL(location, target.url).toString();
      } catch {
        throw new DownloadRefused('redirect to an invalid URL');
      }
      continue;
    }
    if (status < 200 || status > 299) {
      hop.abort(new Error('unwanted status'));
      throw new DownloadFailed(`HTTP ${status}`);
    }
    const declared = Number(hop.res.headers['content-length']);
    if (Number.isFinite(declared) && declared > opts.maxBytes) {
      hop.abort(new DownloadTooLarge(opts.maxBytes));
      throw new DownloadTooLarge(opts.maxBytes);
    }
    let bytes: Uint8Array;
    try {
      bytes = await readCapped(hop, opts.maxBytes);
    } catch (err) {
      throw wrap(err);
    }
    const contentType = String(hop.res.headers['content-type'] ?? 'application/octet-stream').trim();
    return { bytes, contentType, url: target.url.toString() };
  }
}

/**
 * The provider failure a download error amounts to, so adapters can rethrow it as is: a refused URL is its own
 * kind (answered as a disallowed download URL), a timeout keeps its seconds, everything else is a plain failure
 * whose reason carries no URL (provider URLs are signed and must not leak into errors).
 */
export function downloadProviderError(provider: ProviderId, err: unknown, timeoutMs = 60_000): ProviderError {
  if (err instanceof DownloadRefused)
    return new ProviderError(provider, 'download_refused', 'disallowed download URL');
  if (err instanceof DownloadTooLarge) {
    const mb = Math.round((err.limitBytes / (1024 * 1024)) * 100) / 100;
    return new ProviderError(provider, 'error', `result file exceeds ${mb} MB`);
  }
  if (err instanceof DownloadFailed && err.timedOut) {
    return new ProviderError(provider, 'timeout', 'download timed out', {
      timeoutS: Math.round(timeoutMs / 1000),
    });
  }
  if (err instanceof DownloadFailed)
    return new ProviderError(provider, 'error', `result download failed (${err.reason})`);
  return new ProviderError(provider, 'error', 'result download failed');
}
