/**
 * The repository stands on its own for people who clone it: no tracked file outside test/ points at the
 * internal contract documents that are not part of it (`../shared`, the spec's section numbers, DESIGN.md).
 * Code says why in its own words; user documentation lives in docs/.
 */
import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dir, '..', '..');

function trackedFiles(): string[] {
  const out = Bun.spawnSync(['git', 'ls-files', '-z'], { cwd: ROOT });
  if (out.exitCode !== 0) throw new Error('git ls-files failed: this check needs the Git checkout');
  return new TextDecoder()
    .decode(out.stdout)
    .split('\0')
    .filter((f) => f !== '' && !f.startsWith('test/'));
}

describe('the repository stands on its own', () => {
  test('no tracked file outside test/ refers to ../shared, the internal spec or DESIGN.md', () => {
    const files = trackedFiles();
    expect(files.length).toBeGreaterThan(100);
    const offenders: string[] = [];
    for (const f of files) {
      let text: string;
      try {
        text = readFileSync(join(ROOT, f), 'utf8');
      } catch {
        continue;
      }
      if (text.includes('\u0000')) continue; // binary (screenshots)
      text.split('\n').forEach((line, i) => {
        if (/\.\.\/shared|spec\/[a-z-]+\.md|DESIGN\.md|§\s?\d/.test(line))
          offenders.push(`${f}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });
});
