import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type WsWebSocket from 'ws';
import type { WebSocketConstructor } from '../../src/client/index.js';

// Both WebSocket classes the client is made for must fit the type (checked by tsc, types only).
type Fits<T extends WebSocketConstructor> = T;
export type BrowserWebSocketFits = Fits<typeof WebSocket>;
export type NodeWebSocketFits = Fits<typeof WsWebSocket>;

const CLIENT_DIR = join(__dirname, '../../src/client');

describe('src/client portability', () => {
  const files = readdirSync(CLIENT_DIR).filter((name) => name.endsWith('.ts'));

  /** A file's code, comments (and the examples in them) left out. */
  const code = (name: string) =>
    readFileSync(join(CLIENT_DIR, name), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '');

  it.each(files)('%s should import only rxjs and its siblings', (name) => {
    const specifiers = [...code(name).matchAll(/from '([^']+)'/g)].map((match) => match[1]);
    for (const specifier of specifiers) expect(specifier).toMatch(/^(rxjs|\.\/[\w]+\.js)$/);
  });

  it('should see the imports it checks', () => {
    expect(code('outboxClient.ts')).toMatch(/from 'rxjs'/);
    expect(code('outboxClient.ts')).not.toMatch(/ws-outbox\/client/); // only in a doc example
  });

  it.each(files)('%s should use no Node-only global', (name) => {
    expect(code(name)).not.toMatch(/\b(Buffer|process|require|setImmediate|__dirname)\b/);
  });
});
