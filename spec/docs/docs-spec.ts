/**
 * The docs run as written. Every ```ts (or ```typescript) block of README.md and docs/**\/*.md
 * is written to a temporary directory as a module of its own and type-checked in-process
 * against the package's sources (`ws-outbox`, `ws-outbox/operators`, … mapped to them through
 * `paths`, from package.json's `exports`), with the project's strict compiler options.
 *
 * An HTML comment on the line above a block's fence (blank lines between are fine) says how
 * it is checked:
 *
 * - no comment: a complete module, with its imports, that must type-check as is.
 * - `<!-- fragment -->`: an excerpt. Names it uses without defining (the `ws` of the text
 *   around it) are declared `any` and the rest must type-check; names that the package or
 *   rxjs export must still be imported, so a reader knows where they come from.
 * - `<!-- run -->`: a complete module that is also run, in a child process through tsx
 *   (`spec/docs/runBlock.ts`), within RUN_TIMEOUT_MS. It must end by itself (close its
 *   servers and sockets), and what it asserts must hold: `node:assert`, or tests written with
 *   jest's `it` and `expect`, which the runner provides. Anything it serves listens on
 *   127.0.0.1, port 0.
 *
 * A block that defines tests (`it(…)` at top level) must be marked run, so no test in the docs
 * goes unchecked. Last, every runtime export (function, class, constant) of every entry point
 * must be mentioned in code in some page, so nothing public goes undocumented.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  blockFileName,
  describeBlock,
  extractBlocks,
  markdownFiles,
  relativePath,
  typeCheckBlocks,
  writeBlocks,
  writeRunShims,
} from './docBlocks.js';
import type { DocBlock } from './docBlocks.js';
import { brokenLink, codeOf, headingAnchors, isRelative, linkTargets } from './markdown.js';

const root = join(__dirname, '..', '..');
const RUN_TIMEOUT_MS = 60_000;

const pages = markdownFiles(root).map((path) => ({
  file: relativePath(root, path),
  text: readFileSync(path, 'utf8'),
}));
const blocks = pages.flatMap(({ file, text }) => extractBlocks(file, text));
const runnable = blocks.filter((block) => block.kind === 'run');

let dir: string;
let runTsconfig: string;
let errors: Map<DocBlock, string[]>;
let runtimeExports: Map<string, string[]>;
const children = new Set<ChildProcess>();

beforeAll(() => {
  mkdirSync(join(root, 'artifacts'), { recursive: true });
  // Inside the repository, so the blocks resolve rxjs and ws from its node_modules.
  dir = mkdtempSync(join(root, 'artifacts', 'docs-blocks-'));
  const tsconfig = writeBlocks(root, dir, blocks);
  ({ errors, runtimeExports } = typeCheckBlocks(root, tsconfig, blocks));
  runTsconfig = writeRunShims(root, dir, runtimeExports);
}, 180_000);

afterAll(() => {
  // Runs started ahead for tests that were filtered out (jest -t).
  for (const child of children) child.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('extractBlocks', () => {
  it('should find ts blocks, their first line, their marker and their indentation', () => {
    const markdown = [
      '# Title', //                 1
      '```ts', //                   2
      'const a = 1;', //            3
      '```', //                     4
      '<!-- fragment -->', //       5
      '', //                        6
      '```typescript', //           7
      'ws.send(a);', //             8
      '```', //                     9
      '<!-- run -->', //            10
      '````md', //                  11
      '```ts', //                   12
      'not a block: inside a fence', // 13
      '```', //                     14
      '````', //                    15
      '- a list item', //           16
      '  <!-- run -->', //          17
      '  ```ts', //                 18
      '  if (a) {', //              19
      '    go();', //               20
      '  }', //                     21
      '  ```', //                   22
      '```js', //                   23
      'js();', //                   24
      '```', //                     25
    ].join('\n');

    expect(extractBlocks('x.md', markdown)).toEqual([
      { file: 'x.md', line: 3, kind: 'module', code: 'const a = 1;' },
      { file: 'x.md', line: 8, kind: 'fragment', code: 'ws.send(a);' },
      { file: 'x.md', line: 19, kind: 'run', code: 'if (a) {\n  go();\n}' },
    ]);
  });
});

describe('code blocks in the docs', () => {
  it('should be found', () => {
    expect(blocks.length).toBeGreaterThan(40);
    expect(runnable.length).toBeGreaterThan(10);
  });

  it.each(blocks.map((block) => [`${describeBlock(block)} (${block.kind})`, block] as const))(
    '%s should type-check',
    (_name, block) => {
      expect(errors.get(block)).toEqual([]);
    },
  );

  it('should mark every block that defines tests as run', () => {
    const unmarked = blocks
      .filter((block) => block.kind !== 'run' && /^(it|test|describe)\(/m.test(block.code))
      .map(describeBlock);
    expect(unmarked).toEqual([]);
  });

  // Two blocks run at a time: each test starts the next block's run before awaiting its own.
  const runs = new Map<DocBlock, Promise<RunResult>>();
  const start = (block: DocBlock) => {
    if (!runs.has(block)) runs.set(block, runBlock(join(dir, blockFileName(block))));
    return runs.get(block)!;
  };

  it.each(runnable.map((block, index) => [describeBlock(block), index] as const))(
    '%s should run and end by itself',
    async (_name, index) => {
      const run = start(runnable[index]);
      if (index + 1 < runnable.length) start(runnable[index + 1]);
      const { code, output } = await run;
      if (code !== 0) throw new Error(`${describeBlock(runnable[index])} failed:\n${output}`);
    },
    RUN_TIMEOUT_MS + 30_000,
  );
});

describe('API coverage of the docs', () => {
  it('should mention every runtime export of every entry point in code on some page', () => {
    const code = pages.map(({ text }) => codeOf(text)).join('\n');
    const undocumented = [...runtimeExports].flatMap(([entry, names]) =>
      names.filter((name) => !mentions(code, name)).map((name) => `${entry}: ${name}`),
    );
    expect(undocumented).toEqual([]);
  });
});

describe('links in the docs', () => {
  it('should point to files and headings that exist', () => {
    const broken = pages.flatMap(({ file, text }) =>
      linkTargets(text).flatMap((target) => brokenLink(root, file, target) ?? []),
    );
    expect(broken).toEqual([]);
  });

  it('should be absolute in the README, which is also the npm page', () => {
    const readme = pages.find(({ file }) => file === 'README.md')!;
    expect(linkTargets(readme.text).filter(isRelative)).toEqual([]);
  });

  it("should check a page's own anchors against its headings", () => {
    const site = mkdtempSync(join(tmpdir(), 'docs-links-'));
    try {
      mkdirSync(join(site, 'docs'));
      writeFileSync(join(site, 'docs', 'page.md'), '# Page\n\n## Topics\n');
      expect(brokenLink(site, 'docs/page.md', '#topics')).toBeUndefined();
      expect(brokenLink(site, 'docs/page.md', '#rooms')).toBe(
        'docs/page.md: #rooms: no heading #rooms in docs/page.md',
      );
    } finally {
      rmSync(site, { recursive: true, force: true });
    }
  });

  it('should find links and anchors as GitHub does', () => {
    const page = '# A `ws`: page\n\n## Why level 1?\n\n[x](a.md#b)\n\n```md\n[not](b.md)\n```\n';
    expect(linkTargets(page)).toEqual(['a.md#b']);
    expect(headingAnchors(page)).toEqual(new Set(['a-ws-page', 'why-level-1']));
  });
});

/** Whether `code` holds the identifier `name` as a whole word. */
function mentions(code: string, name: string): boolean {
  return new RegExp(`(?<![\\w$])${name.replace(/\$/g, '\\$')}(?![\\w$])`).test(code);
}

interface RunResult {
  /** The exit code, or null when the process was killed. */
  readonly code: number | null;
  /** stdout and stderr, interleaved as they came. */
  readonly output: string;
}

function runBlock(path: string): Promise<RunResult> {
  const child = spawn(
    process.execPath,
    ['--import', pathToFileURL(require.resolve('tsx')).href, join(__dirname, 'runBlock.ts'), path],
    {
      cwd: dir,
      env: { ...process.env, TSX_TSCONFIG_PATH: runTsconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.add(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // A bound, not synchronisation: a block that does not end by itself is killed and fails.
  const timer = setTimeout(() => {
    output += `\n(did not end by itself within ${RUN_TIMEOUT_MS} ms: killed)`;
    child.kill('SIGKILL');
  }, RUN_TIMEOUT_MS);
  return new Promise((resolve) => {
    child.on('error', (error) => (output += `\n${error.stack}`));
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, output });
    });
  });
}
