/**
 * docker-compose.yml and .env.example, checked by reading (no Docker engine runs here): the services, their
 * images, health checks and wiring, and that every variable they name is one Gaia actually reads.
 */

import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAssetConfig } from '../../services/asset/config.ts';
import { readKbConfig } from '../../services/kb/config.ts';
import { loadConfig } from '../../src/config.ts';
import { SERVICE_FACTORIES } from '../../wiring/registry.ts';

const ROOT = join(import.meta.dir, '..', '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  env_file?: Array<{ path: string; required: boolean }>;
}
const compose = Bun.YAML.parse(read('docker-compose.yml')) as {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
};
const services = compose.services;

/** GAIA_SERVICE of each Gaia container. */
const GAIA: Record<string, string> = {
  gateway: 'gateway',
  'auth-service': 'auth',
  'chat-service': 'chat',
  'asset-service': 'asset',
  'kb-service': 'kb',
  'web-service': 'web',
};
const PORTS: Record<string, number> = { auth: 8001, asset: 8002, chat: 8003, kb: 8004 };

const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'gaia-container-')));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * The variables Gaia's configuration reads: its string literals, plus the names it builds at run time
 * (`AUTH_SERVICE_URL`, ...), found by watching what loadConfig looks up.
 */
function configVariables(): Set<string> {
  // Services own their sections (services/<name>/config.ts, and deeper for their parts) and read them from the same environment.
  // The kernel reads a few of its own: the metrics settings and the database timeout where they are used.
  const sources = [
    'src/config.ts',
    'src/metrics.ts',
    'src/platform.ts',
    ...new Bun.Glob('services/**/config.ts').scanSync({ cwd: ROOT }),
  ];
  const names = new Set(
    sources.flatMap((f) => [...read(f).matchAll(/'([A-Z][A-Z0-9_]{2,})'/g)].map((m) => m[1]!)),
  );
  const base: Record<string, string> = { GAIA_DATA_DIR: join(tmp, 'watch'), RATE_LIMIT_REQUESTS: '1' };
  const env = new Proxy(base, {
    get(target, key) {
      if (typeof key === 'string') names.add(key);
      return target[key as string];
    },
  });
  loadConfig(env);
  return names;
}
const CONFIG_VARS = configVariables();
/** Read outside config.ts: the launcher's service switch (wiring/main.ts). */
// Read by the launcher or by the Bun runtime itself, not by loadConfig.
const LAUNCHER_VARS = new Set(['GAIA_SERVICE', 'BUN_CONFIG_MAX_HTTP_REQUESTS']);

describe('docker-compose.yml', () => {
  test('has the infrastructure and one container per Gaia service', () => {
    expect(Object.keys(services).sort()).toEqual(['db', 'nats', ...Object.keys(GAIA)].sort());
  });

  test('db is PostgreSQL 16 on a volume, healthy when pg_isready says so', () => {
    const db = services.db!;
    expect(db.image).toBe('postgres:16');
    expect(db.volumes).toContain('pg-data:/var/lib/postgresql/data');
    expect(db.healthcheck!.test.join(' ')).toContain('pg_isready -h 127.0.0.1 -U gaia -d gaia');
    expect(db.environment).toMatchObject({ POSTGRES_USER: 'gaia', POSTGRES_DB: 'gaia' });
    expect(db.environment!.POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
  });

  test('nats runs JetStream on a volume; its probe uses a client the image has', () => {
    const nats = services.nats!;
    // The plain nats image is a bare binary; the alpine variant has busybox wget for the probe.
    expect(nats.image).toBe('nats:2-alpine');
    expect(nats.command).toEqual(['-js', '-sd', '/data', '-m', '8222']);
    expect(nats.volumes).toContain('nats-data:/data');
    expect(nats.healthcheck!.test).toEqual([
      'CMD',
      'wget',
      '-q',
      '-O',
      '/dev/null',
      'http://127.0.0.1:8222/healthz',
    ]);
  });

  test('every Gaia container runs the one image, and only the gateway builds it', () => {
    const builders = Object.keys(GAIA).filter((n) => services[n]!.build !== undefined);
    expect(builders).toEqual(['gateway']);
    expect(services.gateway!.build).toBe('.');
    for (const name of Object.keys(GAIA)) expect(services[name]!.image, name).toBe('gaia:local');
  });

  test('GAIA_SERVICE selects the service; GAIA_ENV is production', () => {
    for (const [name, svc] of Object.entries(GAIA)) {
      expect(services[name]!.environment!.GAIA_SERVICE, name).toBe(svc);
      expect(services[name]!.environment!.GAIA_ENV, name).toBe('production');
    }
  });

  test('only the gateway (8666) and the web UI (8080) publish ports', () => {
    for (const name of Object.keys(services)) {
      const expected =
        name === 'gateway' ? ['8666:8666'] : name === 'web-service' ? ['8080:8080'] : undefined;
      expect(services[name]!.ports, name).toEqual(expected);
    }
  });

  test('Gaia containers use the image health probe and wait for healthy dependencies', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile).toContain("<<'EOF' /app/healthcheck");
    for (const name of Object.keys(GAIA)) {
      const s = services[name]!;
      expect(s.healthcheck!.test, name).toEqual(['CMD', '/app/healthcheck']);
      for (const dep of Object.keys(s.depends_on ?? {})) {
        expect(services[dep], `${name} depends on ${dep}`).toBeDefined();
        expect(s.depends_on![dep]!.condition, `${name} -> ${dep}`).toBe('service_healthy');
      }
      expect(Object.keys(s.depends_on!), name).toEqual(expect.arrayContaining(['db', 'nats']));
    }
    // The gateway waits for every service this build mounts; services not built yet sit behind a profile,
    // so `docker compose up` never starts a container that would exit at once.
    const built = Object.keys(SERVICE_FACTORIES).map((n) => `${n}-service`);
    expect(Object.keys(services.gateway!.depends_on!).sort()).toEqual([...built, 'db', 'nats'].sort());
    for (const name of ['auth', 'asset', 'chat', 'kb']) {
      const svc = services[`${name}-service`] as { profiles?: string[] };
      if (name in SERVICE_FACTORIES) expect(svc.profiles, name).toBeUndefined();
      else expect(svc.profiles, name).toEqual([name]);
    }
    expect(Object.keys(services['web-service']!.depends_on!)).toContain('gateway');
    // Health checks on the infrastructure too, or `service_healthy` would never be reached.
    expect(services.db!.healthcheck).toBeDefined();
    expect(services.nats!.healthcheck).toBeDefined();
  });

  test('wiring: PostgreSQL, NATS, service URLs at their container names and ports', () => {
    for (const name of Object.keys(GAIA)) {
      const env = services[name]!.environment!;
      expect(env.DATABASE_URL, name).toMatch(
        /^postgres:\/\/gaia:\$\{POSTGRES_PASSWORD:\?[^}]*\}@db:5432\/gaia$/,
      );
      expect(env.NATS_URL, name).toBe('nats://nats:4222');
      expect(env.HOST, name).toBe('0.0.0.0');
      expect(env.GAIA_DATA_DIR, name).toBe('/app/data');
      for (const [svc, port] of Object.entries(PORTS)) {
        const upper = svc.toUpperCase();
        expect(env[`${upper}_SERVICE_URL`], name).toBe(`http://${svc}-service:${port}`);
        expect(env[`${upper}_PORT`], name).toBe(String(port));
        expect(services[`${svc}-service`], `${svc}-service`).toBeDefined();
      }
      expect(env.GATEWAY_PORT).toBe('8666');
      expect(env.WEB_PORT).toBe('8080');
    }
    expect(services['web-service']!.environment!.GATEWAY_URL).toBe('http://gateway:8666');
  });

  test('the shared secrets come from .env and stop compose when unset', () => {
    for (const name of Object.keys(GAIA)) {
      const env = services[name]!.environment!;
      for (const secret of ['GAIA_INTERNAL_SECRET', 'GAIA_JWT_SECRET', 'WEB_SESSION_SECRET'])
        expect(env[secret], `${name} ${secret}`).toMatch(new RegExp(`^\\$\\{${secret}:\\?.+\\}$`));
      expect(services[name]!.env_file, name).toEqual([{ path: '.env', required: false }]);
    }
  });

  test('every variable set on a Gaia container is one Gaia reads', () => {
    const unknown: string[] = [];
    for (const name of Object.keys(GAIA))
      for (const v of Object.keys(services[name]!.environment!))
        if (!CONFIG_VARS.has(v) && !LAUNCHER_VARS.has(v)) unknown.push(`${name}: ${v}`);
    expect(unknown).toEqual([]);
    // GAIA_SERVICE really is read: by config.ts's selectedService, which the launcher calls first.
    expect(read('src/config.ts')).toContain('env.GAIA_SERVICE');
    expect(read('wiring/main.ts')).toContain('selectedService()');
  });

  test('kb and asset data live on named volumes where the services keep them', () => {
    const kb = services['kb-service']!;
    expect(kb.volumes).toEqual([`kb-data:${kb.environment!.KB_PATH}`]);
    expect(kb.environment!.KB_PATH).toBe('/app/data/kb');
    const asset = services['asset-service']!;
    expect(asset.volumes).toEqual([`asset-data:${asset.environment!.ASSET_STORAGE_DIR}`]);
    expect(asset.environment!.ASSET_STORAGE_DIR).toBe('/app/data/assets');
    // Every named volume in use is declared.
    const used = Object.values(services)
      .flatMap((s) => s.volumes ?? [])
      .map((v) => v.split(':')[0]!);
    expect(Object.keys(compose.volumes).sort()).toEqual([...new Set(used)].sort());
  });

  test('every variable compose interpolates is documented in .env.example', () => {
    const example = read('.env.example');
    const vars = new Set(
      [...read('docker-compose.yml').matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]!),
    );
    expect([...vars].sort()).toEqual([
      'GAIA_INTERNAL_SECRET',
      'GAIA_JWT_SECRET',
      'POSTGRES_PASSWORD',
      'WEB_SESSION_SECRET',
    ]);
    for (const v of vars) expect(example, v).toMatch(new RegExp(`^# ${v}=`, 'm'));
  });
});

// ---------------------------------------------------------------------------------------------------------
const EXAMPLE = read('.env.example');
/** `# NAME=value` lines of .env.example. */
const exampleVars = [...EXAMPLE.matchAll(/^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => ({
  commented: m[1] !== undefined,
  name: m[2]!,
  value: m[3]!,
}));

/** Variable names in the table of spec/data.md §7 (`_ENDPOINT` after `ASSET_S3_BUCKET` and so on expanded). */
function specVariables(): string[] {
  const spec = readFileSync(join(ROOT, '..', 'shared', 'spec', 'data.md'), 'utf8');
  const section = spec.slice(spec.indexOf('## 7. Configuration'), spec.indexOf('**Settings of the Python'));
  const names: string[] = [];
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const [, first, , meaning] = line.split('|');
    let prefix = '';
    for (const [, tok] of first!.matchAll(/`([^`]+)`/g)) {
      if (tok!.startsWith('_') && prefix) names.push(prefix + tok);
      else if (/^[A-Z][A-Z0-9_<>]+$/.test(tok!)) {
        names.push(tok!);
        prefix = tok!.replace(/_[A-Z]+$/, '');
      }
    }
    // Older names given as fallbacks in the meaning column (ENVIRONMENT, RATE_LIMIT_*).
    if (/fallback/.test(meaning!))
      for (const [, tok] of meaning!.matchAll(/`([A-Z][A-Z0-9_]{3,})`/g)) names.push(tok!);
  }
  return names;
}
const SPEC_PATH = join(ROOT, '..', 'shared', 'spec', 'data.md');

describe('.env.example', () => {
  test('nothing is set: every variable line is commented out', () => {
    expect(exampleVars.length).toBeGreaterThan(100);
    expect(exampleVars.filter((v) => !v.commented).map((v) => v.name)).toEqual([]);
  });

  test.skipIf(!existsSync(SPEC_PATH))('lists every variable of data.md §7', () => {
    const spec = specVariables();
    expect(spec.length).toBeGreaterThan(120);
    expect(spec).toContain('ASSET_S3_SECRET_ACCESS_KEY');
    expect(spec).toContain('RATE_LIMIT_PERIOD');
    expect(spec).toContain('ENVIRONMENT');
    const listed = new Set(exampleVars.map((v) => v.name));
    const missing = spec.filter((n) =>
      n.includes('<') ? ![...listed].some((l) => l.startsWith(n.slice(0, n.indexOf('<')))) : !listed.has(n),
    );
    expect(missing).toEqual([]);
  });

  test('every variable it lists is one Gaia reads (or compose itself)', () => {
    const extra = new Set(['POSTGRES_PASSWORD', ...LAUNCHER_VARS]);
    const unknown = exampleVars
      .map((v) => v.name)
      .filter((n) => !CONFIG_VARS.has(n) && !extra.has(n) && !n.startsWith('ASSET_PROVIDER_ORDER_'));
    expect(unknown).toEqual([]);
    expect(read('services/asset/config.ts')).toContain('ASSET_PROVIDER_ORDER_');
  });

  test('secrets are placeholders, never values', () => {
    for (const v of exampleVars)
      if (/(SECRET|PASSWORD|TOKEN|_KEY|_KEY_ID)$/.test(v.name))
        expect(v.value === '' || /^<[^>]+>$/.test(v.value), `${v.name}=${v.value}`).toBe(true);
  });

  test('the values shown are the defaults: setting them changes nothing', () => {
    // These show an example of a value to set, not the default (which is "unset").
    const examples = new Set([
      'DATABASE_URL',
      'NATS_URL',
      'REDIS_URL',
      'AUTH_SERVICE_URL',
      'ASSET_SERVICE_URL',
      'CHAT_SERVICE_URL',
      'KB_SERVICE_URL',
      'GATEWAY_URL',
      'ASSET_PROVIDER_ORDER_IMAGE',
      'GAIA_TEST_DATABASE_URL',
      'GAIA_TEST_NATS_URL',
    ]);
    const cwd = join(tmp, 'defaults');
    const before = process.cwd();
    mkdirSync(cwd, { recursive: true });
    process.chdir(cwd);
    try {
      // Service-owned sections are compared too; the raw environment itself naturally differs.
      const strip = (c: ReturnType<typeof loadConfig>) => ({
        ...c,
        internalSecret: '',
        source: {},
        kb: readKbConfig(c),
        asset: readAssetConfig(c),
      });
      const baseline = strip(loadConfig({}));
      const differing: string[] = [];
      for (const v of exampleVars) {
        if (!CONFIG_VARS.has(v.name) || examples.has(v.name) || v.value === '' || v.value.includes('<'))
          continue;
        const c = strip(loadConfig({ [v.name]: v.value }));
        if (!Bun.deepEquals(c, baseline)) differing.push(`${v.name}=${v.value}`);
      }
      expect(differing).toEqual([]);
    } finally {
      process.chdir(before);
    }
  });
});
