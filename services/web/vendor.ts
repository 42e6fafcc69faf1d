/**
 * Copies the browser libraries the web UI serves from npm packages into `public/vendor/`, so pages never
 * load anything from a CDN. Run `bun services/web/vendor.ts` after upgrading one of them;
 * the copied files are committed. `--check` exits 1 when a committed copy differs from node_modules.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const ROOT = resolve(import.meta.dir, '../..');

export interface VendoredFile {
  from: string;
  to: string;
  /** The package whose version and licence go into the header comment. */
  pkg: string;
}

export const VENDORED: VendoredFile[] = [
  { from: 'node_modules/htmx.org/dist/htmx.min.js', to: 'public/vendor/htmx.min.js', pkg: 'htmx.org' },
  // The 3D preview of the assets studio: an ES module with three.js bundled in.
  {
    from: 'node_modules/@google/model-viewer/dist/model-viewer.min.js',
    to: 'public/vendor/model-viewer.min.js',
    pkg: '@google/model-viewer',
  },
  // The usage page's chart.
  { from: 'node_modules/uplot/dist/uPlot.iife.min.js', to: 'public/vendor/uPlot.iife.min.js', pkg: 'uplot' },
  { from: 'node_modules/uplot/dist/uPlot.min.css', to: 'public/vendor/uPlot.min.css', pkg: 'uplot' },
];

function header(pkg: string): string {
  const meta = JSON.parse(readFileSync(resolve(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as {
    version: string;
    license?: string;
  };
  return `/*! ${pkg} ${meta.version} | ${meta.license ?? 'see package'} licence | vendored from npm by services/web/vendor.ts */\n`;
}

export function vendoredContent(f: VendoredFile): string {
  return header(f.pkg) + readFileSync(resolve(ROOT, f.from), 'utf8');
}

if (import.meta.main) {
  const check = process.argv.includes('--check');
  let stale = false;
  for (const f of VENDORED) {
    const target = resolve(ROOT, f.to);
    const content = vendoredContent(f);
    const current = existsSync(target) ? readFileSync(target, 'utf8') : null;
    if (check) {
      if (current !== content) {
        stale = true;
        console.error(`${f.to} differs from ${f.from}: run bun services/web/vendor.ts`);
      }
      continue;
    }
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
    console.log(`${f.from} → ${f.to}`);
  }
  if (stale) process.exit(1);
}
