import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ARTIFACTS, launchChromium } from './chromium.js';
import { createDemoServer } from '../../examples/demo/app.js';
import type { DemoServer } from '../../examples/demo/app.js';
import { sample } from '../helpers/metricsText.js';

/**
 * The page's controls, charts and room in Debian's Chromium, against the real demo server on
 * 127.0.0.1: a burst, a slow reader, a dropped connection, two tabs in one room.
 */

/** Every wait on the page: generous for CI, far below the test timeout. */
const WAIT = { timeout: 15_000 };

let browser: Browser;
let server: DemoServer;
const pages: Page[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

beforeEach(async () => {
  // Figures four times a second: the charts fill quickly.
  server = await createDemoServer({
    port: 0,
    host: '127.0.0.1',
    memory: { corpusSize: 1_000 },
    tokenDelayMs: 30,
    statsIntervalMs: 250,
  });
});

afterEach(async () => {
  await Promise.all(pages.splice(0).map((page) => page.close()));
  await server.close();
  expect(pageErrors.splice(0)).toEqual([]);
});

/** A new tab on the demo, open and in its room. */
async function openPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  pages.push(page);
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(`${server.url}/`);
  await page
    .locator('#status')
    .filter({ hasText: /^open$/ })
    .waitFor(WAIT);
  await page.locator('#node').filter({ hasText: server.nodeName }).waitFor(WAIT);
  return page;
}

/** Resolves once `predicate` holds, checking after each event-loop turn (bounded). */
async function until(predicate: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let turn = 0; !(await predicate()); turn++) {
    if (turn > 500_000) throw new Error(`until: ${what} did not hold`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const figure = async (page: Page, name: string) =>
  Number(await page.locator(`#fig-${name}`).getAttribute('data-value'));

async function post(page: Page, text: string): Promise<void> {
  await page.fill('#room-text', text);
  await page.click('#room-form button');
}

it('burst: 20,000 messages arrive in far fewer frames, on the figures and the charts', async () => {
  const page = await openPage();
  await page.click('#burst');
  const state = page.locator('#burst-state');
  await state.filter({ hasText: /20,000 sent, 0 dropped/ }).waitFor(WAIT);
  await state.filter({ hasText: /^burst: 20,000 messages arrived in \d+ frames/ }).waitFor(WAIT);
  const frames = Number(/in (\d+) frames/.exec((await state.textContent()) ?? '')![1]);
  expect(frames).toBeLessThan(200);

  // The stats topic says the same from the server's side: messages in, frames out.
  await page.waitForFunction(
    () => Number(document.querySelector('#fig-in')!.getAttribute('data-value')) >= 20_000,
    undefined,
    WAIT,
  );
  expect(await figure(page, 'frames')).toBeLessThan(1_000);
  expect(await figure(page, 'drops')).toBe(0);
  expect(await page.locator('.uplot canvas').count()).toBe(4);

  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'demo-controls.png'), fullPage: true });
});

it('slow reader: drops, a gap, then the room messages missed are replayed, all and in order', async () => {
  const slow = await openPage();
  const talker = await openPage();
  const [slowConnection] = server.connections;

  await slow.click('#slow');
  await until(() => slowConnection.link.isPaused, 'the link paused');
  // A burst into the paused connection fills what it may hold; the rest is dropped.
  await slow.click('#burst');
  await until(() => slowConnection.outbox.stats().dropped > 0, 'drops');

  const said = Array.from({ length: 12 }, (_, i) => `message ${i + 1}`);
  for (const text of said) await post(talker, text);
  await talker
    .locator('#room-log p')
    .nth(said.length - 1)
    .waitFor(WAIT);
  await until(
    async () => sample(await server.registry.metrics(), 'ws_outbox_topic_gaps_total') > 0,
    'a gap for the slow reader',
  );
  expect(await slow.locator('#room-log p').count()).toBe(0);

  await slow.click('#slow');
  await slow
    .locator('#slow-state')
    .filter({ hasText: /^released \(asked\)/ })
    .waitFor(WAIT);
  await slow
    .locator('#room-log p')
    .nth(said.length - 1)
    .waitFor(WAIT);
  const talkerName = ((await talker.locator('#room-log p').first().textContent()) ?? '').split(
    ':',
  )[0];
  expect(await slow.locator('#room-log p').allTextContents()).toEqual(
    said.map((text) => `${talkerName}: ${text}`),
  );
  // The figures of the paused seconds were replayed too: they counted the drops.
  await slow.waitForFunction(
    () => Number(document.querySelector('#fig-drops')!.getAttribute('data-value')) > 0,
    undefined,
    WAIT,
  );
  await mkdir(ARTIFACTS, { recursive: true });
  await slow.screenshot({ path: join(ARTIFACTS, 'demo-slow-reader.png'), fullPage: true });
});

it('drop connection: reconnecting, then resumed, and the streaming reply completes exactly', async () => {
  const page = await openPage();
  // Every status the page shows, recorded as it changes.
  await page.evaluate(() => {
    const statuses: string[] = [];
    Object.assign(window, { statuses });
    new MutationObserver(() => {
      statuses.push(document.querySelector('#status')!.textContent ?? '');
    }).observe(document.querySelector('#status')!, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  });
  const text = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
  await page.fill('#text', text);
  await page.click('#chat button:not([type])');
  // Part way through the reply.
  await page.waitForFunction(
    () =>
      (document.querySelector('#log p.agent')?.textContent ?? '').length > 'anima: word0'.length,
    undefined,
    WAIT,
  );
  await page.click('#drop');
  await page
    .locator('#resume')
    .filter({ hasText: /^resumed \(\d+ replayed\)$/ })
    .waitFor(WAIT);
  await page.locator('#log p.agent.done').waitFor(WAIT);

  expect(await page.locator('#log p.agent').allTextContents()).toEqual([`anima: ${text}`]);
  const statuses = await page.evaluate(
    () => (window as unknown as { statuses: string[] }).statuses,
  );
  expect(statuses).toEqual(['reconnecting', 'open']);
  expect(await page.locator('#reconnects').textContent()).toBe('reconnects: 1');
});

it('two tabs in one room see each other’s messages', async () => {
  const [a, b] = [await openPage(), await openPage()];
  await post(a, 'hello from a');
  await b.locator('#room-log p').first().waitFor(WAIT);
  await post(b, 'hi from b');
  for (const page of [a, b]) await page.locator('#room-log p').nth(1).waitFor(WAIT);
  const [aLines, bLines] = [
    await a.locator('#room-log p').allTextContents(),
    await b.locator('#room-log p').allTextContents(),
  ];
  expect(aLines).toEqual(bLines);
  expect(aLines).toEqual([
    expect.stringMatching(/^tab-\w{4}: hello from a$/),
    expect.stringMatching(/^tab-\w{4}: hi from b$/),
  ]);
  // Each tab tells its own posts apart.
  expect(await a.locator('#room-log p.mine').allTextContents()).toEqual([aLines[0]]);
  expect(await b.locator('#room-log p.mine').allTextContents()).toEqual([bLines[1]]);
});
