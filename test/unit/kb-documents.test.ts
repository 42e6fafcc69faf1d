import { describe, expect, test } from 'bun:test';
import { parseDocument, resolveWikiLink, validateContent } from '../../services/kb/documents/parse.ts';

describe('frontmatter', () => {
  test('a YAML mapping between --- lines is frontmatter; the rest is the body', () => {
    const doc = parseDocument(
      'gaia/+gaia.md',
      '---\ntitle: Gaia\ntags: [platform]\n---\n# Gaia\nSee [[gaia/architecture]] #kos\n',
    );
    expect(doc.frontmatter).toEqual({ title: 'Gaia', tags: ['platform'] });
    expect(doc.content).toBe('# Gaia\nSee [[gaia/architecture]] #kos\n');
    expect(doc.title).toBe('Gaia');
    expect(doc.keywords).toEqual(['kos', 'platform']);
    expect(doc.wikiLinks).toEqual(['gaia/architecture']);
    expect(doc.isIndex).toBe(true);
    expect(doc.frontmatterError).toBeUndefined();
  });

  test('... also closes the block; CRLF files work; dates stay as written', () => {
    const doc = parseDocument('a.md', '---\r\ncreated: 2025-01-02\r\nstate: active\r\n...\r\nbody\r\n');
    expect(doc.frontmatter).toEqual({ created: '2025-01-02', state: 'active' });
    expect(doc.content).toBe('body\r\n');
  });

  test('an empty block is an empty mapping', () => {
    const doc = parseDocument('a.md', '---\n---\nbody');
    expect(doc.frontmatter).toEqual({});
    expect(doc.content).toBe('body');
    expect(doc.frontmatterError).toBeUndefined();
  });

  test('YAML that does not parse, or is no mapping, leaves the whole file as body', () => {
    for (const text of ['---\n: [\n---\nbody', '---\n- a\n- b\n---\nbody', '---\njust text\n---\nbody']) {
      const doc = parseDocument('a.md', text);
      expect(doc.frontmatter).toEqual({});
      expect(doc.content).toBe(text);
      expect(doc.frontmatterError).toBeString();
    }
  });

  test('without a closing line, or not on the first line, there is no frontmatter', () => {
    expect(parseDocument('a.md', '---\ntitle: x\nno end').frontmatter).toEqual({});
    expect(parseDocument('a.md', '---\ntitle: x\nno end').frontmatterError).toBeUndefined();
    const later = parseDocument('a.md', 'intro\n---\ntitle: x\n---\n');
    expect(later.frontmatter).toEqual({});
    expect(later.content).toBe('intro\n---\ntitle: x\n---\n');
  });

  test('an alias bomb is refused, not expanded', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 9; i++) {
      const prev = String.fromCharCode(97 + i);
      const next = String.fromCharCode(98 + i);
      bomb.push(`${next}: &${next} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    const doc = parseDocument('a.md', `---\n${bomb.join('\n')}\n---\nbody`);
    expect(doc.frontmatter).toEqual({});
    expect(doc.frontmatterError).toBeString();
  });

  test('duplicate keys are tolerated, last one wins', () => {
    expect(parseDocument('a.md', '---\ntitle: a\ntitle: b\n---\n').frontmatter).toEqual({ title: 'b' });
  });

  test('other file types have no frontmatter, tags or links', () => {
    const doc = parseDocument('data/config.yml', '---\ntitle: x\n---\n# comment #tag\n[[link]]\n');
    expect(doc.frontmatter).toEqual({});
    expect(doc.title).toBe('config');
    expect(doc.keywords).toEqual([]);
    expect(doc.wikiLinks).toEqual([]);
    expect(doc.content).toBe('---\ntitle: x\n---\n# comment #tag\n[[link]]\n');
  });
});

describe('title', () => {
  test('frontmatter title, else first # heading, else file name', () => {
    expect(parseDocument('n/a.md', '---\ntitle: " Given "\n---\n# Heading').title).toBe('Given');
    expect(parseDocument('n/a.md', '---\ntitle: 2025\n---\n').title).toBe('2025');
    expect(parseDocument('n/a.md', 'text\n## Second\n# First Heading #\n# Other').title).toBe(
      'First Heading',
    );
    expect(parseDocument('n/my-notes.md', 'no heading here\n#tag').title).toBe('my-notes');
    expect(parseDocument('n/+index.md', '').title).toBe('+index');
  });

  test('a heading inside a code fence is not the title', () => {
    expect(parseDocument('n/a.md', '```\n# not this\n```\n# This').title).toBe('This');
  });
});

describe('hashtags and keywords', () => {
  const tags = (body: string) => parseDocument('a.md', body).keywords;

  test('hash followed by a word, at line start or after whitespace or (', () => {
    expect(tags('#one two #two\n(#three) x#four page#part')).toEqual(['one', 'two', 'three']);
    expect(tags('#with-dash #with_under #123 #tag.')).toEqual(['with-dash', 'with_under', '123', 'tag']);
    expect(tags('\t#tabbed')).toEqual(['tabbed']);
  });

  test('headings, URLs fragments and double hashes are not tags', () => {
    expect(tags('# Heading\n## Sub\n##nope\nhttps://x.org/#frag [[page#part]]')).toEqual([]);
  });

  test('fenced and inline code are skipped', () => {
    const body = [
      'before #in',
      '```js',
      '#fenced [[fenced-link]]',
      '```',
      '~~~~',
      '#tilde',
      '~~~',
      'still code #tilde2',
      '~~~~',
      'use `#inline [[code-link]]` and ``two `#ticks` here`` then #after',
      'an unmatched ` tick #kept',
    ].join('\n');
    const doc = parseDocument('a.md', body);
    expect(doc.keywords).toEqual(['in', 'after', 'kept']);
    expect(doc.wikiLinks).toEqual([]);
  });

  test('an inline code span does not cross a blank line', () => {
    expect(tags('a `open #one\n\n#two ` close')).toEqual(['one', 'two']);
    expect(tags('a `span #one\ncontinues` #two')).toEqual(['two']);
  });

  test('many unmatched backtick runs are handled in near-linear time', () => {
    let text = '';
    for (let n = 1; text.length < 1_000_000; n++) text += `${'`'.repeat(n)} #t${n} `;
    const started = performance.now();
    const doc = parseDocument('a.md', text);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(doc.keywords.length).toBeGreaterThan(1000);
  });

  test('an unclosed fence runs to the end', () => {
    expect(tags('#a\n```\n#b\n#c')).toEqual(['a']);
  });

  test('hashtags first, then frontmatter tags, without #, de-duplicated', () => {
    expect(parseDocument('a.md', '---\ntags: [b, "#c", a]\n---\n#a #b #a').keywords).toEqual(['a', 'b', 'c']);
    expect(parseDocument('a.md', '---\ntags: "x, #y ,, z"\n---\n').keywords).toEqual(['x', 'y', 'z']);
    expect(parseDocument('a.md', '---\ntags: [1, null, {a: b}]\n---\n').keywords).toEqual(['1']);
  });

  test('tags in the frontmatter text itself are not hashtags', () => {
    expect(parseDocument('a.md', '---\nnote: "#hidden"\n---\nbody').keywords).toEqual([]);
  });
});

describe('wiki links and index files', () => {
  test('inner text once each, in order', () => {
    const doc = parseDocument('a.md', 'See [[b]], [[c|Label]] and [[d#Part]]; again [[b]] [[ ]] [[x\ny]]');
    expect(doc.wikiLinks).toEqual(['b', 'c|Label', 'd#Part']);
  });

  test('index = name starting with + and ending with .md', () => {
    expect(parseDocument('+gaia.md', '').isIndex).toBe(true);
    expect(parseDocument('x/+index.md', '').isIndex).toBe(true);
    expect(parseDocument('x/+index.txt', '').isIndex).toBe(false);
    expect(parseDocument('x/index+.md', '').isIndex).toBe(false);
  });
});

describe('resolveWikiLink', () => {
  test("the linking file's directory first, then the root; .md added", () => {
    expect(resolveWikiLink('gaia/+gaia.md', 'architecture')).toEqual([
      'gaia/architecture.md',
      'architecture.md',
    ]);
    expect(resolveWikiLink('gaia/+gaia.md', 'gaia/architecture')).toEqual([
      'gaia/gaia/architecture.md',
      'gaia/architecture.md',
    ]);
    expect(resolveWikiLink('top.md', 'other')).toEqual(['other.md']);
  });

  test('label and heading are dropped; an existing extension is kept', () => {
    expect(resolveWikiLink('a/b.md', 'c|Label')).toEqual(['a/c.md', 'c.md']);
    expect(resolveWikiLink('a/b.md', 'c#Heading|Label')).toEqual(['a/c.md', 'c.md']);
    expect(resolveWikiLink('a/b.md', 'data.json')).toEqual(['a/data.json', 'data.json']);
    expect(resolveWikiLink('a/b.md', '#Heading')).toEqual(['a/b.md']);
    // A dotted name that is no text extension may be either a file or a note with a dot in its name.
    expect(resolveWikiLink('b.md', 'v1.2')).toEqual(['v1.2', 'v1.2.md']);
  });

  test('namespace prefixes and a leading slash name one place', () => {
    expect(resolveWikiLink('a/b.md', 'user:123e4567/notes/x')).toEqual(['users/123e4567/notes/x.md']);
    expect(resolveWikiLink('a/b.md', 'team:eng/standards')).toEqual(['teams/eng/standards.md']);
    expect(resolveWikiLink('a/b.md', 'workspace:q4-launch/plan')).toEqual(['workspaces/q4-launch/plan.md']);
    expect(resolveWikiLink('a/b.md', 'shared:policy')).toEqual(['shared/policy.md']);
    expect(resolveWikiLink('a/b.md', '/root-note')).toEqual(['root-note.md']);
  });

  test('relative steps stay inside the tree; invalid targets resolve nowhere', () => {
    expect(resolveWikiLink('a/b/c.md', '../d')).toEqual(['a/d.md']);
    expect(resolveWikiLink('a/c.md', '../../../etc/passwd')).toEqual([]);
    expect(resolveWikiLink('a/c.md', '.git/config')).toEqual([]);
    expect(resolveWikiLink('a/c.md', 'bad:name')).toEqual([]);
    expect(resolveWikiLink('a/c.md', 'x\u202e')).toEqual([]);
  });
});

describe('validateContent', () => {
  test('markdown: bad frontmatter is an error; missing title and tags are warnings', () => {
    const bad = validateContent('a.md', '---\n: [\n---\nbody');
    expect(bad.errors).toHaveLength(1);
    expect(bad.errors[0]!.path).toBe('content');
    expect(bad.errors[0]!.message).toStartWith('Frontmatter is not valid YAML');
    expect(validateContent('a.md', '---\n- list\n---\n').errors[0]!.message).toBe(
      'Frontmatter is not a YAML mapping',
    );

    expect(validateContent('a.md', 'plain body')).toEqual({
      errors: [],
      warnings: ["Missing 'title' in frontmatter", "Missing 'tags' in frontmatter"],
    });
    expect(validateContent('a.md', '---\ntitle: T\n---\n').warnings).toEqual([
      "Missing 'tags' in frontmatter",
    ]);
    expect(validateContent('a.md', '---\ntitle: ""\ntags: []\n---\n').warnings).toEqual([
      "Missing 'title' in frontmatter",
    ]);
    expect(validateContent('a.md', '---\ntitle: T\ntags: [x]\n---\n')).toEqual({ errors: [], warnings: [] });
  });

  test('JSON and YAML files must parse; text files are not judged', () => {
    expect(validateContent('a.json', '{"a":1}').errors).toEqual([]);
    expect(validateContent('a.json', '{"a":').errors[0]!.message).toStartWith('Invalid JSON');
    expect(validateContent('a.yml', 'a: 1\n---\nb: 2\n').errors).toEqual([]);
    expect(validateContent('a.YAML', 'a: [1\n').errors[0]!.message).toStartWith('Invalid YAML');
    expect(validateContent('a.yaml', 'a: 1\n---\nb: [\n').errors).toHaveLength(1);
    expect(validateContent('a.txt', '{{{ :[ ')).toEqual({ errors: [], warnings: [] });
  });
});
