import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ARTIFACTS, launchChromium } from './chromium.js';
import { createDemoServer } from '../../examples/demo/app.js';
import type { DemoServer, DemoServerOptions } from '../../examples/demo/app.js';
import type { ChunkEvent } from '../../examples/demo/memory/operations.js';

/** The demo page in Debian's Chromium, against the real demo server on 127.0.0.1. */

/** Every wait on the page: generous for CI, far below the test timeout. */
const WAIT = { timeout: 10_000 };

/** Chunks of memory_search seen by the server, and pending chunks cancelled by a teardown. */
const chunks: ChunkEvent[] = [];
let chunksCancelled = 0;

/**
 * A small corpus scanned slowly: 40 chunks of 100 memories, 25 ms apart, so a search lasts
 * about a second — long enough to watch its progress and to cancel it.
 */
const memory: DemoServerOptions['memory'] = {
  corpusSize: 4_000,
  chunkSize: 100,
  defer: (work) => {
    const timer = setTimeout(work, 25);
    return () => {
      chunksCancelled++;
      clearTimeout(timer);
    };
  },
  onChunk: (chunk) => chunks.push(chunk),
};

let browser: Browser;
let page: Page;
let server: DemoServer | undefined;

function startDemo(port = 0): Promise<DemoServer> {
  return createDemoServer({ port, host: '127.0.0.1', memory, tokenDelayMs: 30 });
}

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

beforeEach(async () => {
  chunks.length = 0;
  chunksCancelled = 0;
  server = await startDemo();
  page = await browser.newPage();
  // The page's own failures would otherwise only show as a timeout.
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.goto(`${server.url}/`);
  await expectStatus('open');
  expect(errors).toEqual([]);
});

afterEach(async () => {
  await page?.close();
  await server?.close();
});

async function expectStatus(status: string): Promise<void> {
  await page
    .locator('#status')
    .filter({ hasText: new RegExp(`^${status}$`) })
    .waitFor(WAIT);
}

/** Sends a chat message through the page's form. */
async function chat(text: string): Promise<void> {
  await page.fill('#text', text);
  await page.click('#chat button:not([type])');
}

/** The text of the `n`-th agent reply row (0-based), once it is marked done. */
async function doneReply(n: number): Promise<string> {
  const row = page.locator('#log p.agent').nth(n);
  await page.locator('#log p.agent.done').nth(n).waitFor(WAIT);
  return (await row.textContent()) ?? '';
}

it('connects, and streams a chat reply token by token', async () => {
  // Every length the reply row has, recorded from inside the page as the deltas land.
  await page.evaluate(() => {
    const lengths: number[] = [];
    Object.assign(window, { replyLengths: lengths });
    new MutationObserver(() => {
      const row = document.querySelector('#log p.agent');
      if (row !== null) lengths.push((row.textContent ?? '').length);
    }).observe(document.querySelector('#log')!, {
      subtree: true,
      childList: true,
      characterData: true,
    });
  });
  const text = 'one two three four five six seven eight nine ten';
  await chat(text);
  expect(await doneReply(0)).toBe(`anima: ${text}`);
  const lengths = await page.evaluate(
    () => (window as unknown as { replyLengths: number[] }).replyLengths,
  );
  // The text grew in many steps rather than arriving whole: a token is 30 ms behind the one
  // before, longer than the outbox's 25 ms window, so most come in frames of their own.
  expect(new Set(lengths).size).toBeGreaterThan(5);
  expect(lengths).toEqual([...lengths].sort((a, b) => a - b));
});

it('decodes a gzip frame: a reply over 10 kB arrives compressed and reads right', async () => {
  // Three long words: few tokens, but the chat.done carrying the whole text is over 10 kB.
  const text = ['a'.repeat(4000), 'b'.repeat(4000), 'c'.repeat(4000)].join(' ');
  await chat(text);
  expect(await doneReply(0)).toBe(`anima: ${text}`);
  await page.locator('#batches p.gzip').first().waitFor(WAIT);
  expect(Number(await page.locator('#compressed').innerText())).toBeGreaterThan(0);
  // The batch view decoded it too: its row says how big it was once gunzipped.
  expect(await page.locator('#batches p.gzip').first().textContent()).toMatch(
    /^#\d+ {2}\d+ msg {2}gzip [\d.]+ k?B → 1\d\.\d kB$/,
  );
});

it('searches with progress, then lists the results; the screenshot is saved', async () => {
  await chat('The zanzibar flamingo sings at dawn.');
  await doneReply(0);
  await page.fill('#query', 'zanzibar flamingo');
  await page.click('#search button:not([type])');

  // Part way: the bar moved, and the server was still scanning.
  await page.waitForFunction(
    () => {
      const bar = document.querySelector<HTMLProgressElement>('#progress')!;
      return bar.value > 0 && bar.value < bar.max;
    },
    undefined,
    WAIT,
  );
  await expect(page.locator('#search-state').innerText()).resolves.toMatch(
    /^searched \d+ of 4001 memories…$/,
  );

  await page.locator('#found p.hit').first().waitFor(WAIT);
  expect(await page.locator('#found p.hit').allTextContents()).toEqual([
    expect.stringMatching(/^0\.\d{3} {2}The zanzibar flamingo sings at dawn\.$/),
  ]);
  expect(await page.locator('#search-state').innerText()).toBe('1 found');
  expect(chunks.at(-1)).toMatchObject({ operation: 'memory_search', scanned: 4001, total: 4001 });

  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'demo-page.png'), fullPage: true });
});

it('cancel stops the search on the server', async () => {
  await page.fill('#query', 'saffron risotto tuesday');
  await page.click('#search button:not([type])');
  await page.waitForFunction(
    () => document.querySelector<HTMLProgressElement>('#progress')!.value > 0,
    undefined,
    WAIT,
  );
  await page.click('#cancel');
  await page
    .locator('#search-state')
    .filter({ hasText: 'cancelled — the server stopped the search' })
    .waitFor(WAIT);

  // The handler was torn down part way: the timer of its next chunk was cleared, so no chunk
  // runs after this one.
  expect(chunksCancelled).toBe(1);
  expect(chunks.at(-1)!.scanned).toBeLessThan(4_000);
  expect(await page.locator('#found p.hit').count()).toBe(0);
});

it('reconnects by itself when the server restarts on the same port, and chats again', async () => {
  const port = Number(new URL(server!.url).port);
  await server!.close();
  await expectStatus('reconnecting');
  server = await startDemo(port);
  await expectStatus('open');
  expect(await page.locator('#reconnects').innerText()).toMatch(/^reconnects: \d+$/);

  await chat('back again');
  expect(await doneReply(0)).toBe('anima: back again');
});
