/**
 * The auth service: users, passwords, sessions, JWT issuance and API keys, with the local
 * provider by default and Supabase when configured. Composed from feature plugins on the service kernel.
 */

import { Elysia } from 'elysia';
import { createServiceApp, type ServiceDeps, SHORT_HOSTS } from '../../src/http/service.ts';
import { routesOf } from '../../src/metrics.ts';
import type { ServiceFactory } from '../../src/platform.ts';
import { apiKeyRoutes } from './api-keys/index.ts';
import { ApiKeysService } from './api-keys/service.ts';
import { AuthEvents } from './events.ts';
import { devMailer, type Mailer } from './mail/mailer.ts';
import { LocalProvider } from './providers/local.ts';
import type { AuthProvider } from './providers/types.ts';
import { sessionRoutes } from './sessions/index.ts';
import { SessionsService } from './sessions/service.ts';
import { SessionStore } from './sessions/store.ts';
import { LoginThrottle } from './sessions/throttle.ts';
import { TokenService } from './tokens/service.ts';
import { userRoutes } from './users/index.ts';
import { UserStore } from './users/service.ts';
import { ValidateService } from './validate/service.ts';

const BODY_IGNORED = /^\/api\/(v1|v0\.3)\/auth\/(logout|api-key-login)\/?$/;

export interface AuthAppOptions {
  /** Where the local provider's confirmation mail goes (default: the log). */
  mailer?: Mailer;
  /** Budget of each Supabase call (10 s by contract; tests shorten it). */
  supabaseTimeoutMs?: number;
}

export function createAuthParts(deps: ServiceDeps, opts: AuthAppOptions = {}) {
  const { config, db, bus, log } = deps;
  const providerName = config.auth.provider;
  const tokens = new TokenService(config);
  const users = new UserStore(db);
  const sessions = new SessionStore(db, tokens, config.auth.refreshTtlDays);
  const events = new AuthEvents(bus, log, providerName);
  const provider: AuthProvider =
    providerName === 'supabase'
      ? // supabase-js is loaded only for this provider (Bun's synchronous `require`, bundled by `bun build`).
        new (require('./providers/supabase.ts') as typeof import('./providers/supabase.ts')).SupabaseProvider(
          {
            config,
            log,
            users,
            sessions,
            events,
            timeoutMs: opts.supabaseTimeoutMs,
          },
        )
      : new LocalProvider({
          config,
          db,
          log,
          users,
          sessions,
          tokens,
          events,
          mailer: opts.mailer ?? devMailer(log),
        });
  const sessionsService = new SessionsService({ db, log, provider, throttle: new LoginThrottle() });
  const validator = new ValidateService(config, db, sessions, log);
  const keys = new ApiKeysService({ config, db, log, users, tokens, events });
  return { provider, tokens, users, sessions, sessionsService, validator, keys };
}

export function createAuthApp(deps: ServiceDeps, opts: AuthAppOptions = {}) {
  const parts = createAuthParts(deps, opts);
  const kernel = createServiceApp({
    name: 'auth',
    deps,
    health: () => ({ provider: parts.provider.name }),
  });
  return new Elysia({ name: 'gaia-auth', handler: SHORT_HOSTS })
    .onParse({ as: 'global' }, ({ request }) => {
      // Logout and api-key-login ignore their body, so a malformed one must not fail them. Registered before
      // the kernel, so it runs before the kernel's JSON parser (which would answer 400).
      if (BODY_IGNORED.test(new URL(request.url).pathname)) return '';
    })
    .use(kernel)
    .use(sessionRoutes(kernel, parts.sessionsService, parts.validator))
    .use(apiKeyRoutes(kernel, parts.keys))
    .use(userRoutes(kernel, parts.provider));
}

export const createAuthService: ServiceFactory = (deps) => {
  const app = createAuthApp(deps);
  return {
    name: 'auth',
    handle: (req) => app.handle(req),
    routes: routesOf(app),
    capabilities: ['local_auth', 'supabase_auth', 'api_keys', 'jwt', 'sessions'].filter(
      (c) => c !== (deps.config.auth.provider === 'local' ? 'supabase_auth' : 'local_auth'),
    ),
  };
};
