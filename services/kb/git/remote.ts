/**
 * The configured Git remote: which URL forms are accepted, what is stored (never credentials), which
 * credentials each host expects, and the masker every error and log text passes through so a token can
 * never reach a log line, a status response or a bus event.
 */
import { ConfigError } from '../../../src/config.ts';

export type RemoteHost = 'github' | 'gitlab' | 'bitbucket' | 'other';

export interface RemoteSpec {
  /** The HTTPS (or HTTP) URL without credentials: what is stored in the repository and shown in status. */
  url: string;
  host: RemoteHost;
  /** What isomorphic-git's `onAuth` answers; null when there is nothing to send. */
  auth: { username: string; password?: string } | null;
  /** Every secret string that must never be shown (token, embedded password). */
  secrets: string[];
}

const VARIABLE = 'KB_GIT_REPO_URL';

const HOSTS: Record<string, RemoteHost> = {
  'github.com': 'github',
  'gitlab.com': 'gitlab',
  'bitbucket.org': 'bitbucket',
};

/** `git@host:path` (scp-like) or `ssh://[user@]host[:port]/path`. */
function parseSsh(raw: string): { host: string; path: string } | null {
  const scp = /^[A-Za-z0-9._-]+@([A-Za-z0-9.-]+):(?!\/\/)(.+)$/.exec(raw);
  if (scp) return { host: scp[1]!.toLowerCase(), path: scp[2]!.replace(/^\/+/, '') };
  if (/^(git\+)?ssh:\/\//i.test(raw)) {
    try {
      const u = new URL(raw.replace(/^git\+/i, ''));
      return { host: u.hostname.toLowerCase(), path: u.pathname.replace(/^\/+/, '') };
    } catch {
      throw new ConfigError(VARIABLE, 'is not a valid URL');
    }
  }
  return null;
}

function withDotGit(path: string): string {
  const clean = path.replace(/\/+$/, '');
  return clean.endsWith('.git') ? clean : `${clean}.git`;
}

/** The credentials each hosting service expects for a token (user name and/or password). */
function credentialsFor(host: RemoteHost, token: string): { username: string; password?: string } {
  switch (host) {
    case 'gitlab':
      return { username: 'oauth2', password: token };
    case 'bitbucket':
      return { username: 'x-token-auth', password: token };
    default:
      // GitHub and generic HTTPS hosts take the token as the user name.
      return { username: token };
  }
}

/**
 * Parses the configured remote. SSH forms of GitHub, GitLab and Bitbucket become HTTPS (the only transport
 * isomorphic-git speaks); any other SSH URL is a start-up configuration error. Credentials embedded in the
 * URL are stripped from the stored URL and used only when no token is configured.
 */
export function parseRemote(raw: string, token?: string): RemoteSpec {
  const input = raw.trim();
  if (!input) throw new ConfigError(VARIABLE, 'is empty');
  const ssh = parseSsh(input);
  let url: URL;
  if (ssh) {
    const host = HOSTS[ssh.host];
    if (!host) {
      throw new ConfigError(
        VARIABLE,
        'uses SSH, which is only accepted for github.com, gitlab.com and bitbucket.org (rewritten to HTTPS); use an https:// URL',
      );
    }
    url = new URL(`https://${ssh.host}/${ssh.path}`);
  } else {
    try {
      url = new URL(input);
    } catch {
      throw new ConfigError(
        VARIABLE,
        'must be an https:// URL (or an SSH URL of GitHub, GitLab or Bitbucket)',
      );
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new ConfigError(
        VARIABLE,
        'must be an https:// URL (or an SSH URL of GitHub, GitLab or Bitbucket)',
      );
    }
  }
  const embeddedUser = decodeURIComponent(url.username);
  const embeddedPass = decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  url.hash = '';
  const host = HOSTS[url.hostname.toLowerCase()] ?? 'other';
  if (host !== 'other') url.pathname = withDotGit(url.pathname);
  const clean = url.toString().replace(/\/+$/, '');

  const secrets: string[] = [];
  let auth: RemoteSpec['auth'] = null;
  const tok = token?.trim();
  if (tok) {
    auth = credentialsFor(host, tok);
    secrets.push(tok);
  } else if (embeddedUser || embeddedPass) {
    // A lone user name in a URL is how tokens are usually embedded, so it is secret too.
    auth = embeddedPass ? { username: embeddedUser, password: embeddedPass } : { username: embeddedUser };
    secrets.push(embeddedPass || embeddedUser);
  }
  // Something the user embedded is hidden even when a token takes precedence.
  if (embeddedPass) secrets.push(embeddedPass);
  else if (embeddedUser && !['git', 'oauth2', 'x-token-auth', 'x-access-token'].includes(embeddedUser))
    secrets.push(embeddedUser);
  return { url: clean, host, auth, secrets: [...new Set(secrets.filter((s) => s.length > 0))] };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Returns a function that replaces every secret (raw, URL-encoded and inside a Basic-auth value) and any
 * `scheme://user:pass@` or `scheme://token@` with `***`.
 */
export function createMasker(secrets: string[]): (text: string) => string {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (!s) continue;
    forms.add(s);
    forms.add(encodeURIComponent(s));
    for (const user of [s, 'oauth2', 'x-token-auth']) {
      for (const pair of [`${user}:${s}`, `${s}:`, `${user}:`]) {
        if (pair.includes(s)) forms.add(Buffer.from(pair).toString('base64').replace(/=+$/, ''));
      }
    }
  }
  const parts = [...forms].filter((f) => f.length > 0).sort((a, b) => b.length - a.length);
  const secretRe = parts.length ? new RegExp(parts.map(escapeRegExp).join('|'), 'g') : null;
  const userinfoRe = /([a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi;
  return (text: string): string => {
    let out = text.replace(userinfoRe, '$1***@');
    if (secretRe) out = out.replace(secretRe, '***');
    return out;
  };
}
