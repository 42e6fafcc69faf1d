import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPublicAddress, parseV6 } from '../../services/asset/fetch/address-policy.ts';
import {
  DownloadFailed,
  DownloadRefused,
  DownloadTooLarge,
  downloadProviderError,
  type ResolvedAddress,
  type SafeFetchOptions,
  safeFetch,
} from '../../services/asset/fetch/safe-fetch.ts';
import { ProviderError } from '../../services/asset/types.ts';

describe('address policy', () => {
  test('public unicast passes', () => {
    for (const a of [
      '8.8.8.8',
      '1.1.1.1',
      '93.184.216.34',
      '172.32.0.1',
      '100.128.0.1',
      '2606:4700::1111',
      '2a00:1450:4001:81c::200e',
      '::ffff:8.8.8.8',
      '64:ff9b::808:808',
      '2002:0808:0808::1',
    ]) {
      expect([a, isPublicAddress(a)]).toEqual([a, true]);
    }
  });

  test('every non-public range is refused, in all its spellings', () => {
    const refused = [
      '127.0.0.1',
      '127.255.255.254',
      '10.0.0.5',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '169.254.0.1',
      '100.64.0.1',
      '100.127.255.255',
      '0.0.0.0',
      '0.1.2.3',
      '224.0.0.1',
      '239.255.255.250',
      '255.255.255.255',
      '240.0.0.1',
      '192.0.2.10',
      '198.51.100.7',
      '203.0.113.9',
      '192.0.0.8',
      '198.18.0.1',
      '::',
      '::1',
      '::ffff:127.0.0.1',
      '::ffff:a9fe:a9fe',
      '::ffff:10.0.0.1',
      '::127.0.0.1',
      '::a9fe:a9fe',
      '64:ff9b::a9fe:a9fe',
      '64:ff9b::127.0.0.1',
      '64:ff9b:1::1',
      '2002:7f00:1::1',
      '2002:c0a8:0101::1',
      'fc00::1',
      'fd12:3456::1',
      'fe80::1',
      'fe80::1%eth0',
      'fec0::1',
      'ff02::1',
      'ff0e::1',
      '2001:db8::1',
      '2001:0db8:ffff::1',
      '2001::1',
      '3fff::1',
      '100::1',
      '::ffff:0:7f00:1',
      'not-an-ip',
      '',
    ];
    for (const a of refused) expect([a, isPublicAddress(a)]).toEqual([a, false]);
  });

  test('IPv6 parsing expands :: and dotted tails', () => {
    expect(parseV6('::ffff:169.254.169.254')).toEqual([0, 0, 0, 0, 0, 0xffff, 0xa9fe, 0xa9fe]);
    expect(parseV6('[2001:db8::1]')).toEqual([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);
    expect(parseV6('1:2:3:4:5:6:7:8')).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(parseV6('1.2.3.4')).toBeNull();
  });
});

describe('refusals with the real policy (nothing is contacted)', () => {
  const lookups: string[] = [];
  const resolver = async (host: string): Promise<ResolvedAddress[]> => {
    lookups.push(host);
    if (host === 'rebind.example') return [{ address: '127.0.0.1', family: 4 }];
    if (host === 'mixed.example')
      return [
        { address: '93.184.216.34', family: 4 },
        { address: '10.0.0.5', family: 4 },
      ];
    if (host === 'v6.example') return [{ address: '::ffff:a9fe:a9fe', family: 6 }];
    if (host === 'nat64.example') return [{ address: '64:ff9b::7f00:1', family: 6 }];
    throw new Error('ENOTFOUND');
  };
  const opts: SafeFetchOptions = { maxBytes: 1000, timeoutMs: 2000, resolver };

  const urls = [
    'http://169.254.169.254/latest/meta-data',
    'https://169.254.169.254/latest/meta-data',
    'https://[::ffff:a9fe:a9fe]/',
    'https://[::ffff:127.0.0.1]/',
    'https://[64:ff9b::a9fe:a9fe]/',
    'https://[::1]/',
    'https://[::]/',
    'https://[fd00::1]/',
    'https://[fe80::1]/',
    'https://[2001:db8::1]/',
    'https://2130706433/',
    'https://0/',
    'https://0x7f.1/',
    'https://017700000001/',
    'https://127.1/',
    'https://10.0.0.5/',
    'https://172.16.3.4/',
    'https://192.168.0.1/',
    'https://100.64.0.1/',
    'https://224.0.0.1/',
    'https://255.255.255.255/',
    'https://192.0.2.1/',
    'https://198.51.100.1/',
    'https://203.0.113.1/',
    'https://rebind.example/file.glb',
    'https://mixed.example/file.glb',
    'https://v6.example/file.glb',
    'https://nat64.example/file.glb',
    'file:///etc/passwd',
    'gopher://example.com/',
    'data:text/plain,hello',
    'ftp://example.com/file',
    'http://example.com/file.png',
    'https://user:pass@example.com/file.png',
    'not a url',
  ];
  for (const url of urls) {
    test(`refuses ${url}`, async () => {
      const err = await safeFetch(url, opts).catch((e) => e);
      expect(err).toBeInstanceOf(DownloadRefused);
    });
  }

  test('IP literals are judged without a DNS lookup', async () => {
    lookups.length = 0;
    await safeFetch('https://2130706433/', opts).catch(() => {});
    await safeFetch('https://[::ffff:a9fe:a9fe]/', opts).catch(() => {});
    expect(lookups).toEqual([]);
  });

  test('an unresolvable host is a plain failure, not a refusal', async () => {
    const err = await safeFetch('https://nxdomain.example/x', opts).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadFailed);
  });
});

describe('downloads from a loopback HTTPS server', () => {
  let dir: string;
  let ca: string;
  let server: ReturnType<typeof Bun.serve>;
  let origin: string;
  const seen: { path: string; host: string | null; headers: Record<string, string> }[] = [];
  const lookups: string[] = [];
  const BYTES = new Uint8Array(50_000).map((_, i) => (i * 13) % 256);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'safe-fetch-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-subj',
        '/CN=files.example.test',
        '-addext',
        'subjectAltName=DNS:files.example.test,DNS:cdn.example.test',
      ],
      { stdio: 'ignore' },
    );
    ca = readFileSync(join(dir, 'cert.pem'), 'utf8');
    server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      tls: { cert: ca, key: readFileSync(join(dir, 'key.pem'), 'utf8') },
      async fetch(req) {
        const url = new URL(req.url);
        seen.push({
          path: url.pathname,
          host: req.headers.get('host'),
          headers: Object.fromEntries(req.headers),
        });
        const port = server.port;
        const p = url.pathname;
        if (p === '/file.png') return new Response(BYTES, { headers: { 'content-type': 'image/png' } });
        const hops = /^\/hop\/(\d+)$/.exec(p);
        if (hops) {
          const n = Number(hops[1]);
          if (n === 0) return new Response(BYTES, { headers: { 'content-type': 'model/gltf-binary' } });
          // Alternate absolute and relative redirects, and switch host names on the way.
          const next = n % 2 ? `https://cdn.example.test:${port}/hop/${n - 1}` : `/hop/${n - 1}`;
          return new Response(null, { status: n % 3 === 0 ? 307 : 302, headers: { location: next } });
        }
        if (p === '/to-metadata') return Response.redirect('https://169.254.169.254/latest/meta-data', 302);
        if (p === '/to-loopback-name')
          return Response.redirect(`https://rebind.example.test:${port}/file.png`, 301);
        if (p === '/to-http') return Response.redirect(`http://files.example.test:${port}/file.png`, 302);
        // 10.0.0.5 and 169.254.169.254 in numeric spellings (127.0.0.1 itself is allowed by this test's policy).
        if (p === '/to-decimal') return Response.redirect('https://167772165/', 302);
        if (p === '/to-hex') return Response.redirect('https://0xa9fea9fe/latest', 302);
        if (p === '/to-mapped') return Response.redirect('https://[::ffff:a9fe:a9fe]/', 308);
        if (p === '/declared-big') return new Response(new Uint8Array(200_000));
        if (p === '/stream-big') {
          let sent = 0;
          return new Response(
            new ReadableStream({
              async pull(c) {
                if (sent >= 5_000_000) return c.close();
                sent += 16_384;
                c.enqueue(new Uint8Array(16_384));
                await Bun.sleep(1);
              },
            }),
          );
        }
        if (p === '/slow') {
          await Bun.sleep(3000);
          return new Response('late');
        }
        if (p === '/status/500') return new Response('upstream broke', { status: 500 });
        return new Response('not found', { status: 404 });
      },
    });
    origin = `https://files.example.test:${server.port}`;
  });

  afterAll(() => {
    server.stop(true);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Both test names resolve to loopback, which the test policy allows; everything else gets the real policy. */
  const resolver = async (host: string): Promise<ResolvedAddress[]> => {
    lookups.push(host);
    if (host === 'files.example.test' || host === 'cdn.example.test')
      return [{ address: '127.0.0.1', family: 4 }];
    if (host === 'rebind.example.test') return [{ address: '127.0.0.2', family: 4 }];
    throw new Error('ENOTFOUND');
  };
  const options = (over: Partial<SafeFetchOptions> = {}): SafeFetchOptions => ({
    maxBytes: 100_000,
    timeoutMs: 5000,
    resolver,
    allowAddress: (a) => a === '127.0.0.1' || isPublicAddress(a),
    testTls: { ca },
    ...over,
  });

  test('fetches the bytes and content type through the checked address, sending no credentials', async () => {
    lookups.length = 0;
    seen.length = 0;
    const res = await safeFetch(`${origin}/file.png?sig=abc`, options());
    expect(res.bytes).toEqual(BYTES);
    expect(res.contentType).toBe('image/png');
    expect(res.url).toBe(`${origin}/file.png?sig=abc`);
    // One lookup: the connection reused the checked address (the name does not exist in real DNS).
    expect(lookups).toEqual(['files.example.test']);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.host).toBe(`files.example.test:${server.port}`);
    expect(seen[0]!.headers.authorization).toBeUndefined();
    expect(seen[0]!.headers.cookie).toBeUndefined();
  });

  test('the certificate is verified against the host name', async () => {
    // Without the test CA the self-signed certificate is refused.
    const untrusted = await safeFetch(`${origin}/file.png`, options({ testTls: undefined })).catch((e) => e);
    expect(untrusted).toBeInstanceOf(DownloadFailed);
    // A name the certificate does not cover fails even with the CA trusted.
    const wrongName = await safeFetch(
      `https://other.example.test:${server.port}/file.png`,
      options({ resolver: async () => [{ address: '127.0.0.1', family: 4 }] }),
    ).catch((e) => e);
    expect(wrongName).toBeInstanceOf(DownloadFailed);
  });

  test('follows up to 3 redirects, each host looked up and checked again', async () => {
    lookups.length = 0;
    const res = await safeFetch(`${origin}/hop/3`, options());
    expect(res.bytes).toEqual(BYTES);
    expect(res.contentType).toBe('model/gltf-binary');
    expect(res.url).toBe(`https://cdn.example.test:${server.port}/hop/0`);
    expect(lookups).toEqual([
      'files.example.test',
      'cdn.example.test',
      'cdn.example.test',
      'cdn.example.test',
    ]);
  });

  test('a fourth redirect is refused', async () => {
    const err = await safeFetch(`${origin}/hop/4`, options()).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadRefused);
  });

  test('redirects to disallowed places are refused before any connection there', async () => {
    for (const path of [
      '/to-metadata',
      '/to-loopback-name',
      '/to-http',
      '/to-decimal',
      '/to-hex',
      '/to-mapped',
    ]) {
      seen.length = 0;
      const err = await safeFetch(`${origin}${path}`, options()).catch((e) => e);
      expect([path, err instanceof DownloadRefused]).toEqual([path, true]);
      expect(seen.map((s) => s.path)).toEqual([path]);
    }
  });

  test('a declared length over the limit is refused before reading', async () => {
    const err = await safeFetch(`${origin}/declared-big`, options()).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadTooLarge);
    expect((err as DownloadTooLarge).limitBytes).toBe(100_000);
  });

  test('an undeclared body is cut off while streaming once it exceeds the limit', async () => {
    const started = Date.now();
    const err = await safeFetch(`${origin}/stream-big`, options()).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadTooLarge);
    // Reading all 5 MB at 16 KiB per ms-spaced chunk would take far longer than the cut-off does.
    expect(Date.now() - started).toBeLessThan(2000);
    // The same stream under a generous limit is read in full, so the cap is what stopped it.
    const full = await safeFetch(`${origin}/stream-big`, options({ maxBytes: 6_000_000 }));
    expect(full.bytes.byteLength).toBe(5_000_000 + (16_384 - (5_000_000 % 16_384)));
  }, 20_000);

  test('times out as a failure marked timedOut; an outer abort also stops it', async () => {
    const err = await safeFetch(`${origin}/slow`, options({ timeoutMs: 200 })).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadFailed);
    expect((err as DownloadFailed).timedOut).toBe(true);
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(new Error('client went away')), 100);
    const aborted = await safeFetch(`${origin}/slow`, options({ signal: ctl.signal })).catch((e) => e);
    expect((aborted as Error).message).toBe('client went away');
  });

  test('an error status is a failure that does not echo the body', async () => {
    const err = await safeFetch(`${origin}/status/500`, options()).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadFailed);
    expect((err as Error).message).toBe('Download failed: HTTP 500');
  });
});

describe('downloadProviderError', () => {
  test('maps each download error to the provider failure kind the orchestrator answers with', () => {
    const refused = downloadProviderError(
      'meshy',
      new DownloadRefused('host resolves to a non-public address'),
    );
    expect(refused).toBeInstanceOf(ProviderError);
    expect([refused.kind, refused.reason]).toEqual(['download_refused', 'disallowed download URL']);
    const big = downloadProviderError('mubert', new DownloadTooLarge(100 * 1024 * 1024));
    expect([big.kind, big.reason]).toEqual(['error', 'result file exceeds 100 MB']);
    const slow = downloadProviderError('meshy', new DownloadFailed('timed out after 60 s', true), 60_000);
    expect([slow.kind, slow.opts.timeoutS]).toEqual(['timeout', 60]);
    const plain = downloadProviderError('meshy', new DownloadFailed('HTTP 500'));
    expect([plain.kind, plain.reason]).toEqual(['error', 'result download failed (HTTP 500)']);
    const other = downloadProviderError('meshy', new Error('https://secret.example/?X-Amz-Signature=abc'));
    expect(other.reason).not.toContain('secret');
  });
});
