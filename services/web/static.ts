/**
 * Static files under `/static/` from `public/`: nothing comes from a CDN. The flat names
 * the pages use map onto the folders the files live in.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';

/**
 * `public/` beside the sources, or, in a `bun build --compile` binary (whose modules live in the virtual
 * `/$bunfs/` tree), beside the binary: the container copies it to /app/public next to /app/gaia.
 */
export const PUBLIC_DIR = import.meta.dir.startsWith('/$bunfs/')
  ? resolve(dirname(process.execPath), 'public')
  : resolve(import.meta.dir, '../../public');

const ALIASES: Record<string, string> = {
  'htmx.min.js': 'vendor/htmx.min.js',
  'gaia.css': 'css/gaia.css',
  'animations.css': 'css/animations.css',
  'gaia.js': 'js/gaia.js',
  'favicon.svg': 'favicon.svg',
};

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  txt: 'text/plain; charset=utf-8',
  map: 'application/json',
};

/**
 * Files `bun run build` embedded in the binary (public/-relative path → embedded path), so the binary serves the
 * UI from any folder; absent when running from the sources.
 */
const EMBEDDED = (globalThis as { __gaiaPublicFiles?: Map<string, string> }).__gaiaPublicFiles;

/** The file for `/static/<rest>`, or null (unknown, a directory, or outside `public/`). */
export function staticFile(rest: string, root = PUBLIC_DIR): string | null {
  let rel: string;
  try {
    rel = decodeURIComponent(rest);
  } catch {
    return null;
  }
  rel = ALIASES[rel] ?? rel;
  // A folder beside the binary still wins (an operator may patch a file); the embedded copy is the fallback.
  if (EMBEDDED && root === PUBLIC_DIR && !existsSync(join(root, rel))) {
    const embedded = EMBEDDED.get(rel);
    if (embedded) return embedded;
  }
  if (rel.includes('\0') || rel.startsWith('/')) return null;
  const path = resolve(root, rel);
  if (!path.startsWith(root + sep)) return null;
  if (!existsSync(path) || !statSync(path).isFile()) return null;
  return path;
}

export function staticResponse(path: string, method: string): Response {
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  const file = Bun.file(path);
  return new Response(method === 'HEAD' ? null : file, {
    headers: {
      'content-type': TYPES[ext] ?? 'application/octet-stream',
      'cache-control': 'public, max-age=300',
      'content-length': String(file.size),
    },
  });
}
