/**
 * The page's script: plain browser JavaScript, no build step. Exported apart from the page so
 * that the tests can run it against the real server.
 *
 * Frames are decoded in arrival order even though a gzip frame decodes asynchronously: each
 * frame waits on the one before it.
 */
export const PAGE_SCRIPT = `
const $ = (selector) => document.querySelector(selector);
const log = $('#log');
const status = $('#status');
const form = $('#chat');
const input = $('#text');
const searchForm = $('#search');
const query = $('#query');
const found = $('#found');
const replies = new Map();
let search = null; // the id of the search running, if one is

function line(who, text) {
  const row = document.createElement('p');
  row.className = who;
  row.textContent = text;
  log.append(row);
  log.scrollTop = log.scrollHeight;
  return row;
}

async function frameText(data) {
  if (typeof data === 'string') return data;
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Response(stream).text();
}

function handle(event) {
  if (event.type === 'chat.ack') {
    replies.set(event.message_id, line('agent', event.agent_id + ': '));
  } else if (event.type === 'chat.delta') {
    const row = replies.get(event.message_id);
    if (row) row.textContent += event.delta;
  } else if (event.type === 'chat.done') {
    const row = replies.get(event.message_id);
    if (row) row.className = 'agent done';
    replies.delete(event.message_id);
  } else if (event.type === 'memory_search.progress' && event.id === search) {
    found.textContent = 'searched ' + event.data.scanned + ' of ' + event.data.total + ' memories…';
  } else if (event.type === 'memory_search.result' && event.id === search) {
    found.textContent = event.data.items.length ? '' : 'nothing found';
    for (const item of event.data.items) {
      const row = document.createElement('p');
      row.textContent = item.score.toFixed(3) + '  ' + item.text;
      found.append(row);
    }
  } else if (event.type === 'memory_search.cancelled' && event.id === search) {
    found.textContent = 'cancelled';
  } else if (event.type === 'memory_compress_preview.result') {
    line('summary', 'summary (' + Math.round(event.data.ratio * 100) + '% of the thread): ' + event.data.summary);
  } else if (event.type === 'error') {
    line('error', event.code + ': ' + event.message);
  }
  if (event.id === search && /[.](complete|cancelled)$|^error$/.test(event.type)) search = null;
}

const socket = new WebSocket(new URL('/ws', location.href).href.replace(/^http/, 'ws'));
socket.binaryType = 'arraybuffer';
let frames = Promise.resolve();
socket.onopen = () => { status.textContent = 'connected'; };
socket.onclose = (event) => { status.textContent = 'disconnected (' + event.code + ')'; };
socket.onmessage = (message) => {
  frames = frames
    .then(() => frameText(message.data))
    .then((text) => {
      for (const json of text.split('\\n')) if (json.trim()) handle(JSON.parse(json));
    })
    .catch((error) => line('error', String(error)));
};

let next = 0;
form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!input.value || socket.readyState !== WebSocket.OPEN) return;
  line('you', 'you: ' + input.value);
  const payload = { text: input.value, agent_id: 'anima' };
  socket.send(JSON.stringify({ type: 'chat.message', id: 'c' + ++next, payload }));
  input.value = '';
});

function request(message) {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

searchForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!query.value) return;
  if (search) request({ type: 'cancel', id: search });
  search = 's' + ++next;
  found.textContent = 'searching…';
  request({ type: 'memory_search', id: search, data: { query: query.value, limit: 10 } });
});
$('#cancel').addEventListener('click', () => {
  if (search) request({ type: 'cancel', id: search });
});
$('#summarise').addEventListener('click', () => {
  request({ type: 'memory_compress_preview', id: 'p' + ++next, data: { max_sentences: 3 } });
});
`;

/**
 * The demo page: a chat box on the echo agent, a summary of the chat so far, and a search of
 * the memories with its progress and a cancel button, all through `/ws`.
 */
export function renderPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ws-outbox demo</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; }
  #log { height: 24rem; overflow-y: auto; border: 1px solid #ccc; border-radius: 6px; padding: 0 .75rem; }
  #log p { margin: .5rem 0; white-space: pre-wrap; }
  .you { color: #555; } .agent { color: #0b5; } .agent.done { color: #063; } .error { color: #b00; }
  .summary { color: #05a; }
  form { display: flex; gap: .5rem; margin-top: .75rem; } #text, #query { flex: 1; padding: .4rem; }
  #found p { margin: .25rem 0; font-size: 13px; }
</style>
</head>
<body>
<h1>ws-outbox demo</h1>
<p>An echo agent streams your message back token by token, and keeps it as a memory to search
  or summarise. Status: <span id="status">connecting…</span>
  · <a href="/metrics">metrics</a></p>
<div id="log"></div>
<form id="chat"><input id="text" autocomplete="off" placeholder="Say something" autofocus><button>Send</button>
  <button type="button" id="summarise">Summarise</button></form>
<h2>Memories</h2>
<form id="search"><input id="query" autocomplete="off" placeholder="saffron risotto tuesday">
  <button>Search</button><button type="button" id="cancel">Cancel</button></form>
<div id="found"></div>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
