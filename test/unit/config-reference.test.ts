/**
 * docs/configuration.md is generated from .env.example; a change to one without the other is caught here.
 */
import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnvExample, renderConfigReference } from '../../wiring/config-reference.ts';

const ROOT = join(import.meta.dir, '..', '..');
const example = readFileSync(join(ROOT, '.env.example'), 'utf8');

describe('configuration reference', () => {
  test('docs/configuration.md is what `bun run docs:config` makes of .env.example', () => {
    expect(readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8')).toBe(renderConfigReference(example));
  });

  test('every variable of .env.example is in the reference, with its default and a meaning', () => {
    const names = [...example.matchAll(/^#\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!);
    const entries = parseEnvExample(example).sections.flatMap((s) => s.entries);
    expect(entries.flatMap((e) => e.names).sort()).toEqual([...names].sort());
    for (const e of entries) expect(e.meaning.length, e.names.join()).toBeGreaterThan(3);
    const page = renderConfigReference(example);
    for (const n of ['DATABASE_URL', 'GAIA_METRICS_TOKEN', 'KB_GIT_REPO_URL', 'ASSET_DAILY_BUDGET_USD'])
      expect(page).toContain(`\`${n}\``);
  });
});
