/**
 * Everything one kb instance holds, built once per app so two stacks in one process share nothing: the
 * working tree, the Git queue, the search index, the access model and the operations over them.
 */

import { HttpError } from '../../src/http/errors.ts';
import type { Identity } from '../../src/http/identity.ts';
import { requireUser, type ServiceDeps, type ServiceKernel } from '../../src/http/service.ts';
import { kbDocuments, onScrape } from '../../src/metrics.ts';
import { Rbac } from './access/rbac.ts';
import { AccessService } from './access/service.ts';
import { KbCache } from './cache.ts';
import { readKbConfig } from './config.ts';
import { FileStore } from './files/service.ts';
import { GitService } from './git/service.ts';
import { Knowledge } from './knowledge/service.ts';
import { KbOperations } from './operations.ts';
import { PeerSync } from './peers.ts';
import { SearchIndex } from './search/service.ts';
import type { Caller, KbConfig } from './types.ts';

/** Pushes are coalesced over about 2 s; a peer's commit is on the remote a little after that. */
const PEER_PUSH_LAG_MS = 3000;

export interface KbContext {
  deps: ServiceDeps;
  kernel: ServiceKernel;
  config: KbConfig;
  store: FileStore;
  git: GitService;
  index: SearchIndex;
  access: AccessService;
  rbac: Rbac;
  knowledge: Knowledge;
  cache: KbCache;
  ops: KbOperations;
  /** Pulls on other instances' commits; only when a remote is shared. */
  peers: PeerSync | null;
  /** Set once the index has been built from the files at start. */
  indexed: boolean;
  /** What pulls changed while the first index was being built; applied again once it is. */
  pulledBeforeIndex: Array<{ path: string; action: 'create' | 'update' | 'delete' }>;
  closed: boolean;
}

export function createKbContext(deps: ServiceDeps, kernel: ServiceKernel): KbContext {
  const { log, bus, db } = deps;
  const config = readKbConfig(deps.config);
  const store = new FileStore(config.path);
  const index = new SearchIndex();
  onScrape('kb-index', () => kbDocuments.set(index.size));
  const cache = new KbCache();
  const access = new AccessService({ db, log });
  const knowledge = new Knowledge(store);
  // The Git layer tells the operations what a pull changed so the index is current before the pull's
  // completion is announced; the operations are built after it, hence the late binding.
  let ops: KbOperations | undefined;
  const git = new GitService({
    config,
    log: log.child({ component: 'git' }),
    bus,
    onPulled: async (changed) => {
      // The first clone is indexed from scratch once it is in place; re-indexing it file by file first
      // would only double the start-up time.
      if (!ctx.indexed) {
        ctx.pulledBeforeIndex.push(...changed);
        return;
      }
      await ops?.applyPulled(changed);
    },
  });
  const peers = config.gitRepoUrl ? new PeerSync(git, bus, log, PEER_PUSH_LAG_MS) : null;
  ops = new KbOperations({
    config,
    log,
    bus,
    store,
    git,
    index,
    access,
    knowledge,
    cache,
    onCommit: (sha) => peers?.noteOwnCommit(sha),
  });
  const rbac = new Rbac({
    db,
    log,
    commitFiles: (caller, files, message) => ops.commitFiles(caller, files, message),
  });
  const ctx: KbContext = {
    deps,
    kernel,
    config,
    store,
    git,
    index,
    access,
    rbac,
    knowledge,
    cache,
    ops,
    peers,
    indexed: false,
    pulledBeforeIndex: [],
    closed: false,
  };
  return ctx;
}

/** The verified caller of a request; anonymous identities get the gateway's 401. */
export function callerOf(identity: Identity): Caller {
  const u = requireUser(identity);
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    admin: u.admin,
    authType: u.authType,
    keyId: u.keyId,
    rid: identity.rid,
  };
}

/** Admin-only routes: the identity's admin flag or the global `kb_admin` role. */
export async function requireKbAdmin(ctx: KbContext, caller: Caller, what: string): Promise<void> {
  if (caller.admin) return;
  const p = await ctx.access.principal(caller);
  if (!p.admin) throw new HttpError(403, `Forbidden: only a KB admin may ${what}`);
}
