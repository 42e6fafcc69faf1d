/**
 * Operator commands of the `gaia` binary (and `bun wiring/main.ts <command>`), for containers where the
 * sources and Bun's tooling are absent: `docker compose exec gateway /app/gaia grant-admin ada@example.com`.
 * They use the same configuration as the server (DATABASE_URL, GAIA_ENV, …).
 *
 * Accounts and keys are made by the auth service's own routes, run in-process with an operator's identity, so
 * the same rules apply as over HTTP (email and password checks, key limits, audit rows) and nothing is
 * duplicated here.
 */
import { eq } from 'drizzle-orm';
import { dbCommand } from '../db/cli.ts';
import { describeDbError, openDb } from '../db/index.ts';
import { createAuthService } from '../services/auth/app.ts';
import { createBus } from '../src/bus/index.ts';
import { loadConfig } from '../src/config.ts';
import { IDENTITY_HEADER, signIdentitySync } from '../src/http/identity.ts';
import { createLogger } from '../src/log.ts';

const USAGE = `usage: gaia <command>
  migrate                      apply pending database migrations, then the seeds
  seed                         re-run the idempotent seeds
  grant-admin EMAIL            make a user an administrator
  revoke-admin EMAIL           take the administrator role away
  create-user EMAIL [NAME]     create an account; prints a generated password once
  create-api-key EMAIL [NAME]  create an API key for an account; prints the key once
  health [URL]                 ask a running Gaia for /health (default http://127.0.0.1:$GATEWAY_PORT)`;

/** 24 random bytes as base64url: 32 characters, far beyond any password rule. */
function generatedPassword(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString('base64url');
}

async function health(url: string | undefined): Promise<number> {
  const config = loadConfig(process.env, { service: 'all' });
  const base = (url ?? `http://127.0.0.1:${config.ports.gateway}`).replace(/\/+$/, '');
  try {
    const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { status?: string };
    console.log(JSON.stringify(body, null, 2));
    // Degraded still serves requests; only a database that does not answer is a failed check.
    return res.ok && body.status !== 'unhealthy' ? 0 : 1;
  } catch (err) {
    console.error(`gaia health: ${base} did not answer (${(err as Error).message})`);
    return 1;
  }
}

/** Runs the auth routes in this process, as an operator. */
async function withAuth<T>(
  run: (
    call: (path: string, body: unknown, sub?: string) => Promise<Response>,
    db: Awaited<ReturnType<typeof openDb>>,
  ) => Promise<T>,
): Promise<T> {
  const config = loadConfig(process.env, { service: 'auth' });
  const log = createLogger({ service: 'cli', level: 'warn', json: config.logFormat === 'json' });
  const db = await openDb({
    ...config.database,
    seedDev: config.seedDev,
    isProduction: config.isProduction,
    log,
  });
  // An in-process bus: events of a one-off command have no subscribers that matter, and publishing to NATS
  // from a shell must not depend on it being reachable.
  const bus = await createBus({ logger: log, name: 'gaia-cli' });
  try {
    const svc = await createAuthService({ config, db, bus, log, clients: {} });
    const call = (path: string, body: unknown, sub?: string) => {
      const headers = new Headers({ 'content-type': 'application/json' });
      headers.set(
        IDENTITY_HEADER,
        signIdentitySync(
          config.internalSecret,
          sub
            ? { auth_type: 'jwt', sub, admin: true, rid: `cli-${crypto.randomUUID()}`, ip: '127.0.0.1' }
            : { auth_type: 'anonymous', admin: false, rid: `cli-${crypto.randomUUID()}`, ip: '127.0.0.1' },
        ),
      );
      return Promise.resolve(
        svc.handle(
          new Request(`http://auth.internal${path}`, { method: 'POST', headers, body: JSON.stringify(body) }),
        ),
      );
    };
    return await run(call, db);
  } finally {
    await bus.drain();
    await db.close();
  }
}

async function detailOf(res: Response): Promise<string> {
  const body = (await res.json().catch(() => ({}))) as { detail?: unknown };
  return typeof body.detail === 'string' ? body.detail : `HTTP ${res.status}`;
}

async function createUser(email: string, name: string | undefined): Promise<number> {
  return withAuth(async (call) => {
    const password = generatedPassword();
    const res = await call('/api/v1/auth/register', { email, password, data: name ? { name } : {} });
    if (!res.ok) {
      console.error(`gaia create-user: ${await detailOf(res)}`);
      return 1;
    }
    const body = (await res.json()) as { user: { id: string; email: string } };
    console.log(`created ${body.user.email} (${body.user.id})`);
    console.log(`password: ${password}`);
    console.log('It is shown only now: hand it to the user over a safe channel.');
    return 0;
  });
}

async function createApiKey(email: string, name: string | undefined): Promise<number> {
  return withAuth(async (call, db) => {
    const t = db.t;
    const [user] = await db.orm
      .select({ id: t.users.id })
      .from(t.users)
      .where(eq(t.users.email, email.trim().toLowerCase()))
      .limit(1);
    if (!user) {
      console.error(`gaia create-api-key: no user with email ${email}`);
      return 1;
    }
    const res = await call('/api/v1/auth/api-keys', { name: name ?? 'Created by an operator' }, user.id);
    if (res.status !== 201) {
      console.error(`gaia create-api-key: ${await detailOf(res)}`);
      return 1;
    }
    const key = (await res.json()) as { id: string; key: string; name: string };
    console.log(`key ${key.id} ("${key.name}") for ${email}:`);
    console.log(key.key);
    console.log('It is shown only now; only its hash is stored.');
    return 0;
  });
}

/** Runs one command; the exit code. */
export async function runCommand(args: string[]): Promise<number> {
  const [command, a, b] = args;
  try {
    switch (command) {
      case 'migrate':
      case 'seed':
      case 'grant-admin':
      case 'revoke-admin':
        return await dbCommand(command, a);
      case 'create-user':
        if (!a) break;
        return await createUser(a, b);
      case 'create-api-key':
        if (!a) break;
        return await createApiKey(a, b);
      case 'health':
        return await health(a);
      case 'help':
      case '--help':
        console.log(USAGE);
        return 0;
    }
  } catch (err) {
    const ours = err instanceof Error && (err.name === 'MigrationError' || err.name === 'ConfigError');
    console.error(`gaia ${command}: ${ours ? (err as Error).message : describeDbError(err)}`);
    return 1;
  }
  console.error(USAGE);
  return 2;
}
