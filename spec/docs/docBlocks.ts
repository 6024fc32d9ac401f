import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';

/**
 * How a block is checked, from the HTML comment above its fence:
 * - `module` (no comment): a complete module, type-checked as is;
 * - `fragment` (`<!-- fragment -->`): an excerpt that uses names it does not define (a `ws`
 *   it did not create, a `socket` from the text around it). Each such name is declared `any`
 *   and the rest is type-checked; names the package or rxjs export must still be imported;
 * - `run` (`<!-- run -->`): a complete module, type-checked, then run on its own.
 */
export type BlockKind = 'module' | 'fragment' | 'run';

export interface DocBlock {
  /** The Markdown file, relative to the repository root, with `/` separators. */
  readonly file: string;
  /** Line of the block's first line of code in that file, counted from 1. */
  readonly line: number;
  readonly kind: BlockKind;
  readonly code: string;
}

/**
 * The file a block is written to: `docs/operators/ndjson.md:120` →
 * `docs_operators_ndjson.md_120.ts`.
 */
export function blockFileName(block: DocBlock): string {
  return `${block.file.replace(/[/\\]/g, '_')}_${block.line}.ts`;
}

export function describeBlock(block: DocBlock): string {
  return `${block.file}:${block.line}`;
}

/** README.md and every Markdown file under docs/, sorted. */
export function markdownFiles(root: string): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return walk(path);
      return entry.name.endsWith('.md') ? [path] : [];
    });
  return [join(root, 'README.md'), ...walk(join(root, 'docs')).sort()];
}

const OPENING_FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/;
const MARKER = /^<!--\s*(fragment|run)\s*-->$/;

/** The ```ts and ```typescript blocks of a Markdown text, with the marker above each. */
export function extractBlocks(file: string, markdown: string): DocBlock[] {
  const lines = markdown.split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const opening = OPENING_FENCE.exec(lines[i]);
    if (!opening) continue;
    const [, indent, fence, language] = opening;
    let end = i + 1;
    while (end < lines.length && !isClosingFence(lines[end], fence)) end++;
    if (language === 'ts' || language === 'typescript') {
      const code = lines
        .slice(i + 1, end)
        .map((line) => line.slice(Math.min(indent.length, line.length - line.trimStart().length)))
        .join('\n');
      blocks.push({ file, line: i + 2, kind: markerAbove(lines, i), code });
    }
    i = end;
  }
  return blocks;
}

function isClosingFence(line: string, opening: string): boolean {
  const trimmed = line.trim();
  return trimmed.startsWith(opening) && /^(`+|~+)$/.test(trimmed) && trimmed[0] === opening[0];
}

function markerAbove(lines: readonly string[], fenceIndex: number): BlockKind {
  let i = fenceIndex - 1;
  while (i >= 0 && lines[i].trim() === '') i--;
  const marker = i >= 0 ? MARKER.exec(lines[i].trim()) : null;
  return marker ? (marker[1] as BlockKind) : 'module';
}

/**
 * The package's public entry points, read from package.json's `exports`: each subpath
 * (`ws-outbox/operators`) and the source file its types are built from (`operators/index.ts`).
 */
export function entryPoints(root: string): Map<string, string> {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, string | { require: { types: string } }>;
  };
  const entries = new Map<string, string>();
  for (const [subpath, target] of Object.entries(manifest.exports)) {
    if (typeof target === 'string') continue; // ./package.json
    const source = target.require.types.replace(/^\.\/dist\/cjs\//, '').replace(/\.d\.ts$/, '.ts');
    entries.set(join(manifest.name, subpath).split(sep).join('/'), join(root, source));
  }
  return entries;
}

/**
 * Writes the blocks into `dir` as modules, with a tsconfig.json that extends the project's and
 * maps the package's entry points to their sources: `tsx <block>` in `dir` runs one, and
 * `npx tsc -p <dir>` type-checks them all.
 *
 * The project's options apply, strict included, with these changes: ES modules resolved as a
 * bundler does (so top-level `await` works, as in an ES module of the reader's own), every
 * file a module, and no unused-name checks (an example may declare a value only to show it).
 */
export function writeBlocks(root: string, dir: string, blocks: readonly DocBlock[]): string {
  mkdirSync(dir, { recursive: true });
  const paths = Object.fromEntries(
    [...entryPoints(root)].map(([specifier, source]) => [specifier, [source]]),
  );
  const tsconfig = {
    extends: join(root, 'tsconfig.json'),
    compilerOptions: {
      module: 'ES2022',
      moduleResolution: 'Bundler',
      moduleDetection: 'force',
      noUnusedLocals: false,
      noUnusedParameters: false,
      noEmit: true,
      paths,
    },
    include: ['*.ts'],
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  // Node runs the blocks as ES modules, as it would the reader's .mjs or "type": "module" code.
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  for (const block of blocks) writeFileSync(join(dir, blockFileName(block)), block.code);
  return join(dir, 'tsconfig.json');
}

/**
 * Writes what tsx runs the blocks with: a tsconfig that maps each entry point to an ES module
 * re-exporting the source's runtime exports by name. The blocks are ES modules and the sources
 * CommonJS (as the package's `require` build is), and Node cannot see names that a CommonJS
 * module re-exports with `export *`; the published package's `import` build has no such
 * problem, so the shims stand in for it.
 */
export function writeRunShims(
  root: string,
  dir: string,
  runtimeExports: Map<string, string[]>,
): string {
  const shims = join(dir, 'run');
  mkdirSync(shims, { recursive: true });
  const paths: Record<string, string[]> = {};
  for (const [specifier, source] of entryPoints(root)) {
    const shim = join(shims, `${specifier.replace(/\//g, '_')}.ts`);
    const names = runtimeExports.get(specifier) ?? [];
    writeFileSync(
      shim,
      `import entry from ${JSON.stringify(source)};\n` +
        `export const { ${names.join(', ')} } = entry;\n`,
    );
    paths[specifier] = [shim];
  }
  const tsconfig = join(dir, 'tsconfig.run.json');
  writeFileSync(tsconfig, JSON.stringify({ compilerOptions: { paths } }, null, 2));
  return tsconfig;
}

/** The names exported by the package's entry points and by rxjs: a block must import them. */
function importableNames(program: ts.Program, root: string): Set<string> {
  const checker = program.getTypeChecker();
  const sources = [...entryPoints(root).values()].map((path) => program.getSourceFile(path));
  const rxjs = ['rxjs', 'rxjs/testing'].map((specifier) => {
    const resolved = ts.resolveModuleName(
      specifier,
      join(root, 'index.ts'),
      program.getCompilerOptions(),
      ts.sys,
    ).resolvedModule;
    return resolved && program.getSourceFile(resolved.resolvedFileName);
  });
  const names = new Set<string>();
  for (const source of [...sources, ...rxjs]) {
    const symbol = source && checker.getSymbolAtLocation(source);
    if (symbol) for (const exported of checker.getExportsOfModule(symbol)) names.add(exported.name);
  }
  return names;
}

/** "Cannot find name 'x'" and its variants: a name the block uses but does not define. */
const UNDEFINED_NAME_CODES = new Set([2304, 2552, 2503, 2580, 2582, 2591, 2592, 2593, 18004]);

function freeNames(program: ts.Program, file: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  for (const diagnostic of program.getSemanticDiagnostics(file)) {
    if (!UNDEFINED_NAME_CODES.has(diagnostic.code) || diagnostic.start === undefined) continue;
    names.add(file.text.slice(diagnostic.start, diagnostic.start + (diagnostic.length ?? 0)));
  }
  return names;
}

/**
 * What using a free name as `any` causes in a fragment, and the reader's own code, where the
 * name has its type, would not: callback parameters implicitly `any` (`wss.on('connection',
 * (ws) => …)`), and type arguments to an untyped call (`client.request<Item>(…)`).
 */
const ANY_CONSEQUENCE_CODES = new Set([7006, 7031, 2347]);

/**
 * A value and a type of each name, the type generic with any arity up to four, so `socket`,
 * `Item[]` and `Store<Item>` all check. Appended, so the block's line numbers stay.
 */
function anyDeclarations(names: Iterable<string>): string {
  return [...names]
    .map((name) => `declare var ${name}: any; type ${name}<_A = 0, _B = 0, _C = 0, _D = 0> = any;`)
    .join('\n');
}

export interface CheckedBlocks {
  /** Each block's errors, as `file.md:line:column message` (the Markdown file's line and column). */
  readonly errors: Map<DocBlock, string[]>;
  /** The runtime exports (functions, classes, constants) of each entry point. */
  readonly runtimeExports: Map<string, string[]>;
}

/** Type-checks the blocks written by `writeBlocks`. */
export function typeCheckBlocks(
  root: string,
  tsconfigPath: string,
  blocks: readonly DocBlock[],
): CheckedBlocks {
  const config = ts.getParsedCommandLineOfConfigFile(
    tsconfigPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    },
  );
  if (!config) throw new Error(`cannot read ${tsconfigPath}`);
  const dir = join(tsconfigPath, '..');
  const pathOf = (block: DocBlock) => join(dir, blockFileName(block));
  const entries = entryPoints(root);
  const rootNames = [...config.fileNames, ...entries.values()];
  const first = ts.createProgram(rootNames, config.options);

  // Fragments, second pass: their free names declared `any`, except names they must import.
  const importable = importableNames(first, root);
  const unimported = new Map<DocBlock, string[]>();
  for (const block of blocks) {
    if (block.kind !== 'fragment') continue;
    const free = [...freeNames(first, first.getSourceFile(pathOf(block))!)];
    unimported.set(
      block,
      free.filter((name) => importable.has(name)),
    );
    const declared = free.filter((name) => !importable.has(name));
    if (declared.length > 0)
      writeFileSync(pathOf(block), `${block.code}\n${anyDeclarations(declared)}\n`);
  }
  const program = ts.createProgram(rootNames, config.options, undefined, first);

  const errors = new Map<DocBlock, string[]>();
  for (const block of blocks) {
    const file = program.getSourceFile(pathOf(block))!;
    const diagnostics = [
      ...program.getSyntacticDiagnostics(file),
      ...program.getSemanticDiagnostics(file),
    ].filter(
      (diagnostic) => block.kind !== 'fragment' || !ANY_CONSEQUENCE_CODES.has(diagnostic.code),
    );
    errors.set(
      block,
      diagnostics.map((diagnostic) => {
        const { line, character } = file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
        const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
        const hint = unimported.get(block)?.some((name) => message.includes(`'${name}'`))
          ? ' (exported by the package or rxjs: import it, even in a fragment)'
          : '';
        return `${block.file}:${block.line + line}:${character + 1} TS${diagnostic.code}: ${message}${hint}`;
      }),
    );
  }
  return { errors, runtimeExports: runtimeExportsOf(program, entries) };
}

function runtimeExportsOf(
  program: ts.Program,
  entries: Map<string, string>,
): Map<string, string[]> {
  const checker = program.getTypeChecker();
  const result = new Map<string, string[]>();
  for (const [specifier, path] of entries) {
    const symbol = checker.getSymbolAtLocation(program.getSourceFile(path)!)!;
    const values = checker.getExportsOfModule(symbol).filter((exported) => {
      if (exported.declarations?.some(isTypeOnlyExport)) return false;
      const target =
        exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      return (target.flags & ts.SymbolFlags.Value) !== 0;
    });
    result.set(
      specifier,
      values.map((exported) => exported.name),
    );
  }
  return result;
}

function isTypeOnlyExport(declaration: ts.Declaration): boolean {
  return (
    ts.isExportSpecifier(declaration) &&
    (declaration.isTypeOnly || declaration.parent.parent.isTypeOnly)
  );
}

export function relativePath(root: string, path: string): string {
  return relative(root, path).split(sep).join('/');
}
