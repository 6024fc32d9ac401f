/** Where the page's script is served: see ./bundle.ts and ./page/main.ts. */
export const PAGE_SCRIPT_PATH = '/app.js';

/** Where uPlot's stylesheet is served: see ./bundle.ts. */
export const PAGE_STYLES_PATH = '/uplot.css';

/**
 * The demo page: live charts of this connection's outbox (fed by its stats topic), the controls
 * that move them (a burst, a slow reader, a dropped connection), a room chat shared with other
 * tabs, the echo agent whose replies stream in token by token and survive a dropped connection,
 * a search of the memories with its progress and a cancel button, a live view of the frames as
 * the outbox batches them, and the connection's status, node and reconnects.
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
<link rel="stylesheet" href="${PAGE_STYLES_PATH}">
<style>
  :root { --ink: #1d2330; --muted: #667085; --line: #e4e7ec; --card: #fff; --bg: #f5f7fa;
    --in: #2563eb; --out: #16a34a; --warn: #d97706; --bad: #dc2626; }
  * { box-sizing: border-box; }
  body { font: 14px/1.45 system-ui, sans-serif; color: var(--ink); background: var(--bg); margin: 0; }
  header { display: flex; flex-wrap: wrap; align-items: baseline; gap: .4rem 1.2rem; padding: 1rem 1.5rem;
    background: var(--card); border-bottom: 1px solid var(--line); }
  header h1 { font-size: 1.2rem; margin: 0 .5rem 0 0; }
  header .meta { color: var(--muted); }
  .pill { display: inline-block; padding: .05rem .55rem; border-radius: 999px; background: #eef2f7; font-weight: 600; }
  main { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1.15fr); gap: 1rem; padding: 1rem 1.5rem;
    max-width: 84rem; margin: 0 auto; }
  @media (max-width: 60rem) { main { grid-template-columns: 1fr; } }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: .25rem 1rem 1rem; margin-bottom: 1rem; }
  h2 { font-size: 1rem; margin: .75rem 0 .5rem; }
  h2 small { font-weight: 400; color: var(--muted); }
  #log, #room-log { height: 13rem; overflow-y: auto; border: 1px solid var(--line); border-radius: 6px; padding: 0 .75rem; }
  #log p, #room-log p { margin: .4rem 0; white-space: pre-wrap; overflow-wrap: anywhere; }
  .you { color: #555; } .agent { color: #0b5; } .agent.done { color: #063; } .error { color: var(--bad); }
  .summary { color: #05a; } .mine { color: var(--in); } .theirs { color: var(--ink); } .note { color: var(--muted); font-style: italic; }
  form { display: flex; gap: .5rem; margin-top: .6rem; } form input { flex: 1; padding: .4rem; }
  button { font: inherit; padding: .35rem .8rem; border: 1px solid #c7ccd6; border-radius: 6px; background: #fff; cursor: pointer; }
  button:hover { background: #f0f3f8; } button.on { background: var(--warn); border-color: var(--warn); color: #fff; }
  button.danger { border-color: #f1b5b5; color: var(--bad); }
  #status { font-weight: 700; } #status.open { color: #063; } #status.reconnecting, #status.connecting { color: var(--warn); }
  #status.closed { color: var(--bad); } #resume { color: #063; font-weight: 600; }
  #progress { width: 100%; margin-top: .5rem; }
  #found p { margin: .25rem 0; font-size: 13px; overflow-wrap: anywhere; }
  .controls { display: flex; flex-wrap: wrap; gap: .5rem; }
  .states p { margin: .35rem 0 0; color: var(--muted); min-height: 1.2em; }
  .figures { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: .5rem; margin: .5rem 0; }
  .figure { border: 1px solid var(--line); border-radius: 8px; padding: .35rem .6rem; }
  .figure span { display: block; color: var(--muted); font-size: 12px; }
  .figure b { font-size: 1.15rem; font-variant-numeric: tabular-nums; }
  .charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: .75rem; }
  .chart { min-height: 10rem; } .chart h3 { font-size: 12px; font-weight: 600; color: var(--muted); margin: .25rem 0; }
  #batches { font: 12px/1.5 ui-monospace, monospace; border: 1px solid var(--line); border-radius: 6px; padding: .25rem .5rem; min-height: 6rem; }
  #batches p { margin: 0; } #batches .gzip { color: #05a; }
  dl { display: grid; grid-template-columns: auto 1fr auto 1fr auto 1fr; gap: .1rem .75rem; margin: 0 0 .5rem; }
  dd { margin: 0; font-variant-numeric: tabular-nums; }
</style>
</head>
<body>
<header>
<h1>ws-outbox demo</h1>
<span>Status: <span id="status">connecting</span> <span id="resume"></span> <span id="reconnects" class="meta"></span></span>
<span class="meta">node <span id="node" class="pill">…</span></span>
<span class="meta">room <span id="room-name" class="pill">…</span></span>
<a href="/metrics">metrics</a>
</header>
<main>
<div>
<section>
<h2>Chat <small>an echo agent streams your message back; the reply survives a dropped connection</small></h2>
<div id="log"></div>
<form id="chat"><input id="text" autocomplete="off" placeholder="Say something" autofocus><button>Send</button>
  <button type="button" id="summarise">Summarise</button></form>
</section>
<section>
<h2>Room <small>open this page in another tab: both see the room</small></h2>
<div id="room-log"></div>
<form id="room-form"><input id="room-text" autocomplete="off" placeholder="Post to the room"><button>Post</button></form>
</section>
<section>
<h2>Memories</h2>
<form id="search"><input id="query" autocomplete="off" placeholder="saffron risotto tuesday">
  <button>Search</button><button type="button" id="cancel">Cancel</button></form>
<progress id="progress" value="0" max="1"></progress>
<div id="search-state"></div>
<div id="found"></div>
</section>
</div>
<div>
<section>
<h2>Controls</h2>
<div class="controls">
  <button type="button" id="burst">Burst 20,000</button>
  <button type="button" id="slow">Slow reader</button>
  <button type="button" id="drop" class="danger">Drop connection</button>
</div>
<div class="states">
  <p id="burst-state"></p>
  <p id="slow-state"></p>
  <p id="drop-state"></p>
</div>
</section>
<section>
<h2>This connection, live <small>published by the server on its stats topic every second</small></h2>
<div class="figures">
  <div class="figure"><span>messages in</span><b id="fig-in">0</b></div>
  <div class="figure"><span>frames out</span><b id="fig-frames">0</b></div>
  <div class="figure"><span>messages per frame</span><b id="fig-ratio">–</b></div>
  <div class="figure"><span>queue now</span><b id="fig-queue">0</b></div>
  <div class="figure"><span>dropped</span><b id="fig-drops">0</b></div>
  <div class="figure"><span>gzip saved</span><b id="fig-gzip">–</b></div>
</div>
<div class="charts">
  <div class="chart"><h3>messages/s in vs frames/s out (log scale)</h3><div id="chart-rate"></div></div>
  <div class="chart"><h3>queue depth and drops/s</h3><div id="chart-queue"></div></div>
  <div class="chart"><h3>send latency p95 (ms)</h3><div id="chart-latency"></div></div>
  <div class="chart"><h3>bytes/s before and after gzip</h3><div id="chart-bytes"></div></div>
</div>
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
</div>
</main>
<script src="${PAGE_SCRIPT_PATH}"></script>
</body>
</html>
`;
}
