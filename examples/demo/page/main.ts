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

/** What the demo server sends outside requests: the chat's events and errors. */
interface PageMessage extends ServerMessage {
  readonly message_id?: string;
  readonly agent_id?: string;
  readonly delta?: string;
  readonly code?: string;
  readonly message?: string;
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

const totals = { frames: 0, messages: 0, compressed: 0 };

function showFrame(data: unknown): void {
  const compressed = typeof data !== 'string';
  const frame = ++totals.frames;
  if (compressed) totals.compressed++;
  const bytes = typeof data === 'string' ? data.length : (data as ArrayBuffer).byteLength;
  // Decoded a second time, only to count: the client does its own decoding, in order.
  void Promise.resolve(decodeFrame(data as string | ArrayBuffer)).then(
    (ndjson) => {
      const count = parseNdjson(ndjson).length;
      totals.messages += count;
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

const client = new OutboxClient<PageMessage>(
  new URL('/ws', location.href).href.replace(/^http/, 'ws'),
  {
    WebSocket: CountingWebSocket as unknown as WebSocketConstructor,
    // Quick reconnects: a demo server restarted by hand should be back within a second or two.
    reconnect: { initialDelayMs: 250, maxDelayMs: 2_000 },
  },
);

let reconnects = 0;
client.status$.subscribe((status: ConnectionStatus) => {
  if (status === 'reconnecting') reconnectsView.textContent = `reconnects: ${++reconnects}`;
  statusView.textContent = status;
  statusView.className = status;
});

// --- The chat -------------------------------------------------------------------------------

const replies = new Map<string, HTMLElement>();
/** Chats sent and not yet answered: an error with one of these ids is the chat's refusal. */
const unanswered = new Set<string>();
let nextChat = 0;

client.messages$.subscribe((message) => {
  const id = message.message_id ?? '';
  if (message.type === 'chat.ack') {
    unanswered.delete(id);
    replies.set(id, line(log, 'agent', `${message.agent_id}: `));
  } else if (message.type === 'chat.delta') {
    const row = replies.get(id);
    if (row) row.textContent += message.delta ?? '';
  } else if (message.type === 'chat.done') {
    const row = replies.get(id);
    if (row) row.className = 'agent done';
    replies.delete(id);
  } else if (
    message.type === 'error' &&
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
