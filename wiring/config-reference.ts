/**
 * Writes docs/configuration.md, the configuration reference, from .env.example: that file is the one list
 * of every variable with its default and meaning (tests check it against what the code reads), so the
 * reference is generated from it rather than kept by hand beside it. `bun run docs:config` rewrites it;
 * a unit test fails when the committed page and the example file disagree.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dir, '..');

interface Entry {
  names: string[];
  defaults: string[];
  meaning: string;
}

interface Section {
  title: string;
  entries: Entry[];
  /** Comment lines after the section's last variable. */
  notes: string[];
}

const VARIABLE = /^#\s*([A-Z][A-Z0-9_]*)=(.*)$/;
const SECTION = /^# ---- (.+) ----$/;

export function parseEnvExample(text: string): { intro: string[]; sections: Section[] } {
  const intro: string[] = [];
  const sections: Section[] = [];
  let comment: string[] = [];
  let current: Section | undefined;
  let last: Entry | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    const section = SECTION.exec(line);
    if (section) {
      current = { title: section[1]!, entries: [], notes: [] };
      sections.push(current);
      comment = [];
      last = undefined;
      continue;
    }
    const variable = VARIABLE.exec(line);
    if (variable && current) {
      const [, name, value] = variable;
      if (last && comment.length === 0) {
        // Variables right under another share its description.
        last.names.push(name!);
        last.defaults.push(value!);
      } else {
        last = { names: [name!], defaults: [value!], meaning: comment.join(' ') };
        current.entries.push(last);
      }
      comment = [];
      continue;
    }
    if (line.startsWith('#')) {
      const text = line.replace(/^#\s?/, '');
      if (current) comment.push(text);
      else intro.push(text);
      continue;
    }
    if (line === '' && current && comment.length) {
      current.notes.push(comment.join(' '));
      comment = [];
    }
  }
  if (current && comment.length) current.notes.push(comment.join(' '));
  return { intro, sections };
}

/** Table cells: pipes would end the cell, and `<path>` would read as an HTML tag. */
const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/**
 * The example file shows each default, except for secrets (a `<placeholder>`) and settings whose meaning
 * starts with what happens when they are unset (the value shown is then an example).
 */
function defaultOf(value: string, meaning: string): string {
  if (value.startsWith('<')) return 'none (secret)';
  if (/^Unset\b|unset by default/i.test(meaning))
    return value === '' ? '(unset)' : `(unset); e.g. \`${value}\``;
  return value === '' ? '(unset)' : `\`${value}\``;
}

/** A Markdown table with its columns padded to one width, as the repository's formatter lays tables out. */
function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

export function renderConfigReference(text: string): string {
  const { sections } = parseEnvExample(text);
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from .env.example by `bun run docs:config`; edit that file, then run the command. -->',
    '',
    'Gaia reads its configuration from the environment once, at start; a value it cannot use stops the start',
    'with a message naming the variable. Nothing is required outside production: unset, Gaia runs on SQLite and',
    'its in-process bus, generates its secrets once under `./data`, and seeds the dev account. `bun run dev` and',
    '`bun test` also read `.env` from the project root; `docker compose` passes it to every container.',
    '',
    'Each service reads only its own section, so a service started alone (split mode) needs only the common,',
    'database and bus settings and its own. Values shown as `<…>` are placeholders for secrets: make each with',
    '`openssl rand -base64 48` (at least 32 characters).',
    '',
  ];
  for (const s of sections) {
    out.push(`## ${s.title}`, '');
    const rows = s.entries.map((e) => [
      e.names.map((n) => `\`${n}\``).join('<br>'),
      e.defaults.map((d) => defaultOf(d, e.meaning)).join('<br>'),
      cell(e.meaning),
    ]);
    out.push(...table(['Variable', 'Default', 'Meaning'], rows), '');
    for (const n of s.notes) out.push(n, '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

if (import.meta.main) {
  const text = readFileSync(join(ROOT, '.env.example'), 'utf8');
  writeFileSync(join(ROOT, 'docs', 'configuration.md'), renderConfigReference(text));
  console.log('docs/configuration.md written from .env.example');
}
