/**
 * The demo page's script, bundled for the browser by ../bundle.ts. Plain DOM, no framework:
 * everything it shows comes through the library's own client.
 */
import { decodeFrame, OutboxClient, parseNdjson } from '../../../src/client/index.js';
import type {
  ConnectionStatus,
  RequestEvent,
  ServerMessage,
  WebSocketConstructor,
} from '../../../src/client/index.js';
import type { Subscription } from 'rxjs';
import { createCharts } from './charts.js';
import type { Figures } from './charts.js';

/**
 * What the page reads from the server's lines besides requests and topic data: `hello`, the
 * topics' `subscribed` and errors, `publish.ack`, the slow reader's release, refusals.
 */
interface PageMessage extends ServerMessage {
  readonly code?: string;
  readonly message?: string;
  readonly topic?: string;
  readonly node?: string;
  readonly recovered?: boolean;
  readonly replayed?: number;
  readonly held?: number;
  readonly reason?: string;
}

/** What the agent sends, on the session's topic. */
interface ChatEvent {
  readonly type: string;
  readonly message_id?: string;
  readonly agent_id?: string;
  readonly delta?: string;
}

/** A line of the room, as pages post it. */
interface RoomLine {
  readonly from?: unknown;
  readonly text?: unknown;
}

interface BurstReport {
  readonly sent: number;
  readonly dropped: number;
  readonly total: number;
}

interface SearchProgress {
  readonly scanned: number;
  readonly total: number;
}
interface SearchResult {
  readonly items: ReadonlyArray<{ readonly text: string; readonly score: number }>;
}

/** Frames listed in the batch view: enough to watch, few enough to keep the page light. */
const BATCHES_SHOWN = 12;

const $ = <E extends Element = HTMLElement>(selector: string): E => {
  const element = document.querySelector<E>(selector);
  if (element === null) throw new Error(`the page has no ${selector}`);
  return element;
};

const statusView = $('#status');
const reconnectsView = $('#reconnects');
const log = $('#log');
const chatForm = $<HTMLFormElement>('#chat');
const text = $<HTMLInputElement>('#text');
const searchForm = $<HTMLFormElement>('#search');
const query = $<HTMLInputElement>('#query');
const progress = $<HTMLProgressElement>('#progress');
const searchState = $('#search-state');
const found = $('#found');
const counters = {
  frames: $('#frames'),
  messages: $('#messages'),
  compressed: $('#compressed'),
};
const batches = $('#batches');
const nodeView = $('#node');
const resumeView = $('#resume');
const roomLog = $('#room-log');
const roomForm = $<HTMLFormElement>('#room-form');
const roomText = $<HTMLInputElement>('#room-text');
const burstState = $('#burst-state');
const slowButton = $('#slow');
const slowState = $('#slow-state');
const dropState = $('#drop-state');
const figureViews = {
  in: $('#fig-in'),
  frames: $('#fig-frames'),
  ratio: $('#fig-ratio'),
  queue: $('#fig-queue'),
  drops: $('#fig-drops'),
  gzip: $('#fig-gzip'),
};

/**
 * This page's session: its chat replies and its figures are topics of their own, which the
 * server joins it to and which it resumes across reconnects. Random, so no other page reads them.
 */
const session = randomId();
const me = `tab-${session.slice(0, 4)}`;
const room = `room:${roomFromHash()}`;
$('#room-name').textContent = room;

function randomId(): string {
  const uuid = (globalThis.crypto as Crypto | undefined)?.randomUUID?.();
  if (uuid) return uuid.replace(/-/g, '');
  let id = '';
  while (id.length < 24) id += Math.random().toString(36).slice(2);
  return id.slice(0, 24);
}

/** `#room=name` in the page's URL picks the room; `lobby` by default. */
function roomFromHash(): string {
  const hash = typeof location.hash === 'string' ? location.hash : '';
  const name = /room=([\w.-]{1,64})/.exec(hash)?.[1];
  return name ?? 'lobby';
}

function line(into: HTMLElement, className: string, content: string): HTMLElement {
  const row = document.createElement('p');
  row.className = className;
  row.textContent = content;
  into.append(row);
  into.scrollTop = into.scrollHeight;
  return row;
}

// --- The batch view -------------------------------------------------------------------------
// The client's messages$ hides frames, which is the point of it; to show how the outbox batches,
// the page listens to the raw socket too, through a WebSocket class that the client is given.

const totals = { frames: 0, messages: 0, compressed: 0, ticks: 0, tickFrames: 0 };

function showFrame(data: unknown): void {
  const compressed = typeof data !== 'string';
  const frame = ++totals.frames;
  if (compressed) totals.compressed++;
  const bytes = typeof data === 'string' ? data.length : (data as ArrayBuffer).byteLength;
  // Decoded a second time, only to count: the client does its own decoding, in order.
  void Promise.resolve(decodeFrame(data as string | ArrayBuffer)).then(
    (ndjson) => {
      const values = parseNdjson(ndjson);
      const count = values.length;
      totals.messages += count;
      const ticks = values.filter((value) => (value as { type?: unknown }).type === 'tick').length;
      if (ticks > 0) {
        totals.ticks += ticks;
        totals.tickFrames++;
        showBurst();
      }
      counters.frames.textContent = String(totals.frames);
      counters.messages.textContent = String(totals.messages);
      counters.compressed.textContent = String(totals.compressed);
      const kind = compressed ? `gzip ${kb(bytes)} → ${kb(ndjson.length)}` : `text ${kb(bytes)}`;
      const row = line(batches, compressed ? 'gzip' : 'text', `#${frame}  ${count} msg  ${kind}`);
      row.dataset.messages = String(count);
      while (batches.childElementCount > BATCHES_SHOWN) batches.firstElementChild!.remove();
    },
    () => line(batches, 'error', `#${frame}  undecodable`),
  );
}

function kb(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} kB`;
}

const BrowserWebSocket = globalThis.WebSocket;
/** The browser's WebSocket, plus a listener that feeds the batch view before the client sees a frame. */
class CountingWebSocket extends BrowserWebSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols);
    this.addEventListener('message', (event: MessageEvent) => showFrame(event.data));
  }
}

// --- The client -----------------------------------------------------------------------------

const wsUrl = new URL('/ws', location.href).href.replace(/^http/, 'ws');
const client = new OutboxClient<PageMessage>(`${wsUrl}?session=${session}`, {
  WebSocket: CountingWebSocket as unknown as WebSocketConstructor,
  // Quick reconnects: a demo server restarted by hand should be back within a second or two.
  reconnect: { initialDelayMs: 250, maxDelayMs: 2_000 },
});

let reconnects = 0;
client.status$.subscribe((status: ConnectionStatus) => {
  if (status === 'reconnecting') {
    reconnectsView.textContent = `reconnects: ${++reconnects}`;
    resumeView.textContent = '';
  }
  statusView.textContent = status;
  statusView.className = status;
});

// --- The chat -------------------------------------------------------------------------------

const replies = new Map<string, HTMLElement>();
/** Chats sent and not yet answered: an error with one of these ids is the chat's refusal. */
const unanswered = new Set<string>();
let nextChat = 0;

// The agent's events come on the session's topic: a reply cut by a dropped connection goes on
// after the reconnect, from where it was, with no token twice.
client.listen<ChatEvent>(`session:${session}`).subscribe((event) => {
  const id = event.message_id ?? '';
  if (event.type === 'chat.ack') {
    unanswered.delete(id);
    replies.set(id, line(log, 'agent', `${event.agent_id}: `));
  } else if (event.type === 'chat.delta') {
    const row = replies.get(id);
    if (row) row.textContent += event.delta ?? '';
  } else if (event.type === 'chat.done') {
    const row = replies.get(id);
    if (row) row.className = 'agent done';
    replies.delete(id);
  }
});

client.messages$.subscribe((message) => {
  if (message.type === 'hello') {
    nodeView.textContent = message.node ?? '?';
  } else if (message.type === 'subscribed' && message.topic === `session:${session}`) {
    // After a reconnect: the server handed back what the session missed.
    if (message.recovered === true) {
      resumeView.textContent = `resumed (${message.replayed ?? 0} replayed)`;
      dropState.textContent = `resumed on ${nodeView.textContent}: nothing lost`;
    } else if (message.recovered === false) {
      resumeView.textContent = `not resumed: ${message.reason}`;
    }
  } else if (message.type === 'publish.ack') {
    unposted.delete(message.id ?? '');
  } else if (message.type === 'slow_reader') {
    slowOff(`released (${message.reason}): ${message.held} frames the server held went out`);
  } else if (message.type === 'error' && message.id !== undefined && unposted.delete(message.id)) {
    line(roomLog, 'error', `not posted: ${message.code}: ${message.message}`);
  } else if (
    message.type === 'error' &&
    message.topic === undefined &&
    (message.id === undefined || unanswered.delete(message.id))
  ) {
    // Errors of requests reach their request's subscriber; these are the chat's (a refusal:
    // busy, too_large) or the connection's.
    line(log, 'error', `${message.code}: ${message.message}`);
  } else if (message.type === 'memory_search.cancelled' && message.id === searchId) {
    // The request was unsubscribed already; this is the server saying its handler stopped.
    searchState.textContent = 'cancelled — the server stopped the search';
  }
});

chatForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!text.value) return;
  const id = `c${++nextChat}`;
  const sent = client.send({
    type: 'chat.message',
    id,
    payload: { text: text.value, agent_id: 'anima' },
  });
  if (!sent) {
    line(log, 'error', `not sent: the connection is ${client.status}`);
    return;
  }
  unanswered.add(id);
  line(log, 'you', `you: ${text.value}`);
  text.value = '';
});

$('#summarise').addEventListener('click', () => {
  client
    .request<{ summary: string; ratio: number }>('memory_compress_preview', { max_sentences: 3 })
    .subscribe({
      next: (event) => {
        if (event.type !== 'memory_compress_preview.result' || !event.data) return;
        const { summary, ratio } = event.data;
        line(log, 'summary', `summary (${Math.round(ratio * 100)}% of the thread): ${summary}`);
      },
      error: (error: Error & { code?: string }) =>
        line(log, 'error', `${error.code ?? error.name}: ${error.message}`),
    });
});

// --- The memory search ----------------------------------------------------------------------

let search: Subscription | undefined;
/** The server's id of the running search, known from its first event. */
let searchId: string | undefined;

function showSearchEvent(event: RequestEvent<SearchProgress | SearchResult>): void {
  searchId = event.id;
  if (event.type === 'memory_search.progress') {
    const { scanned, total } = event.data as SearchProgress;
    progress.max = total;
    progress.value = scanned;
    searchState.textContent = `searched ${scanned} of ${total} memories…`;
  } else if (event.type === 'memory_search.result') {
    const { items } = event.data as SearchResult;
    progress.value = progress.max;
    found.textContent = '';
    for (const item of items) line(found, 'hit', `${item.score.toFixed(3)}  ${item.text}`);
    searchState.textContent = items.length ? `${items.length} found` : 'nothing found';
  }
}

searchForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!query.value) return;
  // A new search replaces the one running: unsubscribing sends its cancel.
  search?.unsubscribe();
  searchId = undefined;
  found.textContent = '';
  progress.value = 0;
  searchState.textContent = 'searching…';
  search = client
    .request<SearchProgress | SearchResult>('memory_search', { query: query.value, limit: 10 })
    .subscribe({
      next: showSearchEvent,
      error: (error: Error & { code?: string }) => {
        searchState.textContent = `failed: ${error.code ?? error.name}: ${error.message}`;
      },
    });
});

$('#cancel').addEventListener('click', () => {
  if (search === undefined || search.closed) return;
  // Unsubscribing is the whole cancel: the client sends {type:"cancel", id} for us.
  search.unsubscribe();
  searchState.textContent = 'cancelled';
});

// --- The room -------------------------------------------------------------------------------

/** Posts sent and not yet acked: an error with one of these ids is the post's refusal. */
const unposted = new Set<string>();
let nextPost = 0;

client.subscribe<RoomLine>(room).subscribe({
  next: (data) => {
    const from = typeof data.from === 'string' ? data.from : '?';
    const said = typeof data.text === 'string' ? data.text : JSON.stringify(data);
    line(roomLog, from === me ? 'mine' : 'theirs', `${from}: ${said}`);
  },
  error: (error: Error & { code?: string }) =>
    line(roomLog, 'error', `room refused: ${error.code ?? error.name}`),
});
client.recoveries$.subscribe(({ topic, reason }) => {
  if (topic === room) line(roomLog, 'note', `missed messages could not be replayed (${reason})`);
});

roomForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!roomText.value) return;
  const id = `p${++nextPost}`;
  const sent = client.send({
    type: 'publish',
    id,
    topic: room,
    data: { from: me, text: roomText.value },
  });
  if (!sent) {
    line(roomLog, 'error', `not sent: the connection is ${client.status}`);
    return;
  }
  unposted.add(id);
  roomText.value = '';
});

// --- The controls ---------------------------------------------------------------------------

let burstReport: BurstReport | undefined;

function showBurst(): void {
  const received = `${totals.ticks.toLocaleString('en')} messages arrived in ${totals.tickFrames} frames`;
  const report = burstReport
    ? ` · server: ${burstReport.sent.toLocaleString('en')} sent, ${burstReport.dropped.toLocaleString('en')} dropped`
    : '';
  burstState.textContent = `burst: ${received}${report}`;
}

$('#burst').addEventListener('click', () => {
  totals.ticks = 0;
  totals.tickFrames = 0;
  burstReport = undefined;
  burstState.textContent = 'burst: asked…';
  client.request<BurstReport>('burst', { count: 20_000 }).subscribe({
    next: (event) => {
      if (event.type === 'burst.result' && event.data) burstReport = event.data;
      showBurst();
    },
    error: (error: Error & { code?: string }) => {
      burstState.textContent = `burst refused: ${error.code ?? error.name}: ${error.message}`;
    },
  });
});

let slow = false;

function slowOff(text: string): void {
  slow = false;
  slowButton.className = '';
  slowButton.textContent = 'Slow reader';
  slowState.textContent = text;
}

slowButton.addEventListener('click', () => {
  if (!client.send({ type: 'slow_reader', on: !slow })) return;
  if (slow) {
    slowState.textContent = 'releasing…';
    return;
  }
  slow = true;
  slowButton.className = 'on';
  slowButton.textContent = 'Slow reader: on (click to release)';
  slowState.textContent =
    'the page stops reading: the server holds what it sends, then its queue fills and drops';
});

$('#drop').addEventListener('click', () => {
  if (!client.send({ type: 'drop' })) return;
  dropState.textContent = 'dropped: the server cut the connection without a close frame';
  if (slow) slowOff('released: the connection it slowed is gone');
});

// --- The charts -----------------------------------------------------------------------------

const charts = createCharts({
  rate: $('#chart-rate'),
  queue: $('#chart-queue'),
  latency: $('#chart-latency'),
  bytes: $('#chart-bytes'),
});

/** Shows a figure, and keeps its number in `data-value` for whoever reads the page. */
function showFigure(view: HTMLElement, value: number, text = value.toLocaleString('en')): void {
  view.textContent = text;
  view.dataset.value = String(value);
}

client.listen<Figures>(`stats:${session}`).subscribe((figures) => {
  charts?.add(figures);
  const { totalMessagesIn, totalFramesOut, totalTextBytes, totalWireBytes } = figures;
  showFigure(figureViews.in, totalMessagesIn);
  showFigure(figureViews.frames, totalFramesOut);
  const ratio = totalFramesOut > 0 ? totalMessagesIn / totalFramesOut : 0;
  showFigure(figureViews.ratio, ratio, ratio > 0 ? ratio.toFixed(1) : '–');
  showFigure(figureViews.queue, figures.queue);
  showFigure(figureViews.drops, figures.totalDrops);
  const saved = totalTextBytes > 0 ? 1 - totalWireBytes / totalTextBytes : 0;
  showFigure(figureViews.gzip, saved, totalTextBytes > 0 ? `${Math.round(saved * 100)}%` : '–');
});
