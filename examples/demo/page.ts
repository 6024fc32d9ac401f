/** Where the page's script is served: see ./bundle.ts and ./page/main.ts. */
export const PAGE_SCRIPT_PATH = '/app.js';

/**
 * The demo page: a chat box on the echo agent whose replies stream in token by token, a summary
 * of the chat so far, a search of the memories with its progress and a cancel button, a live view
 * of the frames as the outbox batches them, and the connection's status with its reconnects.
 * The markup only; the script, built from the client, is {@link PAGE_SCRIPT_PATH}.
 */
export function renderPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ws-outbox demo</title>
<link rel="icon" href="data:,">
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
  main { display: grid; grid-template-columns: 3fr 2fr; gap: 1.5rem; }
  h2 { font-size: 1.1rem; margin: 1rem 0 .5rem; }
  #log { height: 20rem; overflow-y: auto; border: 1px solid #ccc; border-radius: 6px; padding: 0 .75rem; }
  #log p { margin: .5rem 0; white-space: pre-wrap; overflow-wrap: anywhere; }
  .you { color: #555; } .agent { color: #0b5; } .agent.done { color: #063; } .error { color: #b00; }
  .summary { color: #05a; }
  form { display: flex; gap: .5rem; margin-top: .75rem; } #text, #query { flex: 1; padding: .4rem; }
  #status { font-weight: 600; } #status.open { color: #063; } #status.reconnecting, #status.connecting { color: #a60; }
  #status.closed { color: #b00; }
  #progress { width: 100%; margin-top: .5rem; }
  #found p { margin: .25rem 0; font-size: 13px; overflow-wrap: anywhere; }
  #batches { font: 12px/1.5 ui-monospace, monospace; border: 1px solid #ccc; border-radius: 6px; padding: .25rem .5rem; min-height: 10rem; }
  #batches p { margin: 0; } #batches .gzip { color: #05a; }
  dl { display: grid; grid-template-columns: auto 1fr; gap: .1rem .75rem; margin: 0 0 .5rem; }
  dd { margin: 0; font-variant-numeric: tabular-nums; }
</style>
</head>
<body>
<h1>ws-outbox demo</h1>
<p>An echo agent streams your message back token by token, and keeps it as a memory to search
  or summarise. Status: <span id="status">connecting</span> <span id="reconnects"></span>
  · <a href="/metrics">metrics</a></p>
<main>
<section>
<h2>Chat</h2>
<div id="log"></div>
<form id="chat"><input id="text" autocomplete="off" placeholder="Say something" autofocus><button>Send</button>
  <button type="button" id="summarise">Summarise</button></form>
<h2>Memories</h2>
<form id="search"><input id="query" autocomplete="off" placeholder="saffron risotto tuesday">
  <button>Search</button><button type="button" id="cancel">Cancel</button></form>
<progress id="progress" value="0" max="1"></progress>
<div id="search-state"></div>
<div id="found"></div>
</section>
<section>
<h2>Frames as they arrive</h2>
<dl>
  <dt>frames</dt><dd id="frames">0</dd>
  <dt>messages</dt><dd id="messages">0</dd>
  <dt>gzip frames</dt><dd id="compressed">0</dd>
</dl>
<div id="batches"></div>
</section>
</main>
<script src="${PAGE_SCRIPT_PATH}"></script>
</body>
</html>
`;
}
