/**
 * Runs one documentation block, in a process of its own:
 *
 *     node --import tsx spec/docs/runBlock.ts <block.ts>
 *
 * The block's top-level code runs when it is imported. A block written as a test file (`it`,
 * `test`, `describe`, `beforeEach`, `afterEach`, and jest's `expect`, as the docs show them)
 * has its tests run after that, in order, each after its `beforeEach` hooks and before its
 * `afterEach` ones.
 *
 * A failure prints the error and exits with 1 at once. Success exits by itself, never through
 * `process.exit`: a block that leaves a server, a socket or a timer behind does not end, and
 * the docs spec reports it as not exiting.
 */
import { pathToFileURL } from 'node:url';
import { expect } from 'expect';

type Body = () => unknown;

interface Scope {
  readonly parent: Scope | undefined;
  readonly name: string;
  readonly beforeEach: Body[];
  readonly afterEach: Body[];
}

interface Test {
  readonly scope: Scope;
  readonly name: string;
  readonly body: Body;
}

const tests: Test[] = [];
let current: Scope = { parent: undefined, name: '', beforeEach: [], afterEach: [] };

function defineTest(name: string, body: Body): void {
  // A `done` callback would need a timeout of its own; the docs use promises instead.
  if (body.length > 0)
    throw new TypeError(`${name}: a test taking a done callback is not supported`);
  tests.push({ scope: current, name, body });
}

Object.assign(globalThis, {
  expect,
  it: defineTest,
  test: defineTest,
  describe(name: string, define: () => void): void {
    const outer = current;
    current = { parent: outer, name, beforeEach: [], afterEach: [] };
    try {
      define();
    } finally {
      current = outer;
    }
  },
  beforeEach: (hook: Body) => current.beforeEach.push(hook),
  afterEach: (hook: Body) => current.afterEach.push(hook),
});

/** The scopes from the outermost to `scope`. */
function chain(scope: Scope | undefined): Scope[] {
  return scope ? [...chain(scope.parent), scope] : [];
}

async function runTest({ scope, name, body }: Test): Promise<void> {
  const scopes = chain(scope);
  const title = [...scopes.map((s) => s.name).filter(Boolean), name].join(' › ');
  try {
    for (const { beforeEach } of scopes) for (const hook of beforeEach) await hook();
    await body();
    for (const { afterEach } of scopes.reverse()) for (const hook of afterEach) await hook();
  } catch (error) {
    console.error(`✕ ${title}`);
    console.error(error instanceof Error ? error.stack : error);
    process.exit(1);
  }
  console.log(`✓ ${title}`);
}

async function main(file: string | undefined): Promise<void> {
  if (!file) throw new TypeError('usage: runBlock.ts <block.ts>');
  await import(pathToFileURL(file).href);
  for (const test of tests) await runTest(test);
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
