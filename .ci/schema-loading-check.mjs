// `ws-outbox/operators` loads fast-json-stringify (and ajv under it) only when a schema is
// compiled, in both builds: each build is loaded in a fresh `node`, which lists every module it
// loaded, then compiles a schema. Run after `npm run build` (`npm run check:package` does).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Session } from 'node:inspector';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const SCHEMA_COMPILER = /[\\/](fast-json-stringify|ajv[^\\/]*)[\\/]/;
const build = process.argv[2];

if (build === undefined) {
  for (const each of ['cjs', 'esm']) {
    const report = execFileSync(process.execPath, [fileURLToPath(import.meta.url), each], {
      encoding: 'utf8',
    });
    process.stdout.write(report);
  }
} else {
  await check(build);
}

/** In the child: loads one build of `ws-outbox/operators` and checks what it loaded. */
async function check(build) {
  const require = createRequire(import.meta.url);
  // Two views of what is loaded: V8 reports every script it compiles (ES modules included), and
  // CommonJS modules (JSON files too, which are no scripts) land in require.cache.
  const scripts = new Set();
  const session = new Session();
  session.connect();
  session.on('Debugger.scriptParsed', ({ params }) => {
    if (params.url.startsWith('file:')) scripts.add(fileURLToPath(params.url));
    else if (params.url.startsWith('/')) scripts.add(params.url);
  });
  session.post('Debugger.enable');
  const loaded = () => new Set([...scripts, ...Object.keys(require.cache)]);

  const operators =
    build === 'cjs' ? require('ws-outbox/operators') : await import('ws-outbox/operators');
  const entry = build === 'cjs' ? 'dist/cjs/operators/index.js' : 'dist/esm/operators/index.js';
  const before = loaded();
  assert.ok(
    [...before].some((path) => path.endsWith(entry)),
    `${build}: expected ${entry} among the loaded modules`,
  );
  const early = [...before].filter((path) => SCHEMA_COMPILER.test(path));
  assert.deepEqual(early, [], `${build}: loaded without a schema`);

  const { lastValueFrom, of } = require('rxjs');
  const batch = [{ id: 1, text: 'a', extra: true }, { id: 2 }];
  const plain = await lastValueFrom(of(batch).pipe(operators.ndjson()));
  assert.equal(plain, '{"id":1,"text":"a","extra":true}\n{"id":2}');
  assert.equal([...loaded()].filter((path) => SCHEMA_COMPILER.test(path)).length, 0);

  const schema = {
    type: 'object',
    properties: { id: { type: 'integer' }, text: { type: 'string' } },
  };
  const typed = await lastValueFrom(of(batch).pipe(operators.ndjson({ schema })));
  assert.equal(typed, '{"id":1,"text":"a"}\n{"id":2}');
  // The same lists see the compiler once a schema needs it, so their silence above is meaningful.
  const compiler = [...loaded()].filter((path) => SCHEMA_COMPILER.test(path));
  assert.ok(compiler.length > 0, `${build}: fast-json-stringify not seen after a schema`);
  session.post('Debugger.disable');
  session.disconnect();

  console.log(
    `${build}: ws-outbox/operators loaded ${before.size} modules, none of fast-json-stringify ` +
      `or ajv; ndjson({ schema }) then loaded ${compiler.length} of them and works`,
  );
}
