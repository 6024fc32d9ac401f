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
const replies = new Map();

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
  } else if (event.type === 'error') {
    line('error', event.code + ': ' + event.message);
  }
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
`;

/** The demo page: a chat box on the echo agent, through `/ws`. */
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
  form { display: flex; gap: .5rem; margin-top: .75rem; } #text { flex: 1; padding: .4rem; }
</style>
</head>
<body>
<h1>ws-outbox demo</h1>
<p>An echo agent streams your message back token by token. Status: <span id="status">connecting…</span>
  · <a href="/metrics">metrics</a></p>
<div id="log"></div>
<form id="chat"><input id="text" autocomplete="off" placeholder="Say something" autofocus><button>Send</button></form>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
