/**
 * The inspector's web page: one self-contained HTML document (no build step, no CDN) that follows
 * `/api/events` (server-sent events, one view per sample) and draws nodes, actors, channels and topics.
 * Everything that comes from the system (ids, errors) is escaped before it reaches the DOM.
 */
export const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<title>Troupe inspector</title>
<link rel="icon" href="data:,">
<style>
  :root { --bg: #0f1115; --panel: #171a21; --hover: #1d212b; --line: #2a303c; --track: #343b49; --text: #d8dee9;
          --dim: #8b93a6; --accent: #7aa2f7; --ok: #9ece6a; --warn: #e0af68; --bad: #f7768e; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
         background: var(--bg); color: var(--text); }
  header { display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: baseline; padding: 12px 20px;
           border-bottom: 1px solid var(--line); }
  header h1 { font-size: 15px; margin: 0; color: var(--accent); white-space: nowrap; }
  #status::before { content: ""; display: inline-block; width: 8px; height: 8px; border-radius: 50%;
                    margin-right: 6px; background: var(--dim); }
  #status.ok::before { background: var(--ok); } #status.warn { color: var(--warn); }
  #status.warn::before { background: var(--warn); } #status.down { color: var(--bad); }
  #status.down::before { background: var(--bad); }
  #summary { color: var(--dim); }
  button { font: inherit; color: var(--text); background: var(--panel); border: 1px solid var(--line);
           border-radius: 4px; padding: 2px 10px; cursor: pointer; }
  button:focus-visible, input:focus-visible, a:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
  #pause { margin-left: auto; }
  #pause[aria-pressed="true"] { color: var(--warn); border-color: var(--warn); }
  main { padding: 4px 20px 24px; transition: opacity .3s; }
  /* what is on screen is no longer current: the connection dropped or the samples stopped */
  main.stale { opacity: .45; }
  .section-head { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; margin: 22px 0 8px; }
  h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .08em; color: var(--dim); margin: 22px 0 8px; }
  .section-head h2 { margin: 0; }
  .note { color: var(--dim); }
  .nodes { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 300px), 1fr)); gap: 10px; }
  .node { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; min-width: 0; }
  .node.unresponsive { border-color: var(--bad); }
  .node .head { display: flex; gap: 8px; justify-content: space-between; align-items: baseline; }
  .node .id { color: var(--accent); overflow-wrap: anywhere; }
  .badge { font-size: 11px; padding: 0 6px; border-radius: 3px; border: 1px solid currentColor; white-space: nowrap; }
  .badge.up { color: var(--ok); } .badge.unresponsive { color: var(--bad); }
  .meta { color: var(--dim); }
  .node ul { list-style: none; margin: 4px 0 0; padding: 0; }
  .node li { overflow-wrap: anywhere; }
  /* tables scroll sideways in their own box: the page itself never gets wider than the screen */
  .scroll { overflow-x: auto; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: 5px 7px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  tbody tr:last-child td { border-bottom: 0; }
  th { color: var(--dim); font-weight: normal; }
  th button { all: unset; cursor: pointer; }
  th button:focus-visible { outline: 2px solid var(--accent); }
  th[aria-sort] { color: var(--text); }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  tbody tr:hover td { background: var(--hover); }
  td.node-id, .cap { color: var(--dim); }
  .bar { display: inline-block; width: 40px; height: 6px; background: var(--track); border-radius: 3px;
         vertical-align: middle; margin-left: 6px; overflow: hidden; }
  .bar i { display: block; height: 100%; background: var(--ok); }
  .bar i.warn { background: var(--warn); } .bar i.bad { background: var(--bad); }
  .state-active { color: var(--ok); } .state-restarting, .state-stopping, .state-starting { color: var(--warn); }
  .state-terminated, .bad { color: var(--bad); }
  /* long ids and errors wrap rather than push the table wider than the screen */
  td.wrap, td.err { white-space: normal; overflow-wrap: anywhere; min-width: 9em; }
  td.err { color: var(--bad); min-width: 12em; }
  td.node-id.wrap { min-width: 15em; }
  td.err span { display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; }
  /* the actor's id stays in sight while its row scrolls sideways (a phone shows two columns) */
  #actors th:first-child, #actors td:first-child { position: sticky; left: 0; background: var(--panel);
    box-shadow: 1px 0 0 var(--line); }
  #actors tbody tr:hover td:first-child { background: var(--hover); }
  svg.spark { vertical-align: middle; margin-left: 6px; }
  input { background: var(--panel); color: var(--text); border: 1px solid var(--line); border-radius: 4px;
          padding: 4px 8px; font: inherit; width: min(100%, 300px); }
  input::placeholder { color: var(--dim); }
  .empty { color: var(--dim); padding: 8px 10px; }
  footer { padding: 0 20px 24px; color: var(--dim); }
  a { color: var(--accent); }
  @media (max-width: 600px) {
    header { padding: 10px 12px; } main { padding: 0 12px 20px; } footer { padding: 0 12px 20px; }
    /* the summary takes a line of its own under the title, the status and the pause button */
    #summary { order: 1; flex-basis: 100%; }
  }
</style>
</head>
<body>
<header>
  <h1>Troupe inspector</h1>
  <span id="status" role="status">connecting…</span>
  <span id="summary"></span>
  <button id="pause" type="button" aria-pressed="false" title="Stop redrawing, to read or copy; samples keep arriving">pause</button>
</header>
<main id="main">
  <section aria-labelledby="nodes-h"><h2 id="nodes-h">Nodes</h2><div id="nodes" class="nodes"></div></section>
  <section aria-labelledby="actors-h">
    <div class="section-head">
      <h2 id="actors-h">Actors</h2>
      <input id="filter" type="search" aria-label="Filter actors by node, id, protocol or state" placeholder="filter actors">
      <span id="actors-note" class="note"></span>
    </div>
    <div id="actors" class="scroll"></div>
  </section>
  <section aria-labelledby="channels-h"><h2 id="channels-h">Channels</h2><div id="channels" class="scroll"></div></section>
  <section aria-labelledby="topics-h"><h2 id="topics-h">Topics</h2><div id="topics" class="scroll"></div></section>
</main>
<footer>Raw data: <a href="api/view">api/view</a> (JSON) · <a href="metrics">metrics</a> (Prometheus)</footer>
<script>
"use strict";
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const $ = (id) => document.getElementById(id);
// a browser draws a few hundred rows a second comfortably, not the 100,000 a view may hold
const maxRows = 500;
const history = new Map(); // actor key -> recent throughputs, for the sparklines
const downSince = new Map(); // node id -> when this page first saw it unresponsive
const lastUp = new Map(); // node id -> its latest answer, to say what went missing with it
let sort = { key: "throughput", desc: true };
let latest; // the newest view received
let shown; // the view on screen (older than latest while paused)
let paused = false;
let problem; // why the latest sample could not be shown, if it could not
const textKeys = ["node", "id", "protocol", "state", "lastError"];

const num = (n) => typeof n === "number" && Number.isFinite(n);
const rate = (n) => !num(n) ? "—" : n === 0 ? "0" : n >= 1e6 ? (n / 1e6).toFixed(1) + "M" : n >= 1000 ? (n / 1000).toFixed(n >= 1e5 ? 0 : 1) + "k" : n >= 10 ? n.toFixed(0) : n.toFixed(1);
const count = (n) => !num(n) ? "—" : String(Math.round(n)).replace(/\\B(?=(\\d{3})+(?!\\d))/g, ",");
// thresholds sit where rounding would carry over ("1000ms" reads as "1.0s")
const ms = (n) => !num(n) ? "—" : n < 0.9995 ? (n * 1000).toFixed(0) + "µs" : n < 9.95 ? n.toFixed(1) + "ms" : n < 999.5 ? n.toFixed(0) + "ms" : (n / 1000).toFixed(1) + "s";
const bytes = (n) => !num(n) ? "—" : n >= 1 << 30 ? (n / (1 << 30)).toFixed(1) + " GB" : n >= 1 << 20 ? (n / (1 << 20)).toFixed(0) + " MB" : (n / 1024).toFixed(0) + " KB";
const dur = (t) => { if (!num(t)) return "—"; const s = Math.floor(t / 1000); return s < 60 ? s + "s" : s < 3600 ? Math.floor(s / 60) + "m " + (s % 60) + "s" : Math.floor(s / 3600) + "h " + (Math.floor(s / 60) % 60) + "m"; };
const clock = (t) => new Date(t).toLocaleTimeString();
const plural = (n, one) => count(n) + " " + one + (n === 1 ? "" : "s");
// a long node id may break after a slash (the ids of workers and children are paths from this node)
const nodeId = (id) => esc(id).replace(/[/]/g, "/<wbr>");
const keyOf = (a) => a.node + "\\n" + a.id + "\\n" + a.incarnation;

function spark(values) {
  const w = 48, h = 16, max = Math.max(1, ...values);
  const pts = values.map((v, i) => (i * w / Math.max(1, values.length - 1)).toFixed(1) + "," + (h - 1 - (num(v) ? v : 0) / max * (h - 2)).toFixed(1)).join(" ");
  return '<svg class="spark" aria-hidden="true" width="' + w + '" height="' + h + '"><polyline fill="none" stroke="#7aa2f7" stroke-width="1.2" points="' + pts + '"/></svg>';
}

function bar(n, cap) {
  const f = num(n) && cap > 0 ? Math.min(1, n / cap) : 0;
  return '<span class="bar" aria-hidden="true"><i class="' + (f > 0.9 ? "bad" : f > 0.5 ? "warn" : "") + '" style="width:' + (f * 100).toFixed(0) + '%"></i></span>';
}
const depth = (n, cap) => count(n) + '<span class="cap">/' + (num(cap) ? cap : "—") + "</span>" + bar(n, cap);

function table(label, cols, rows, sortable, empty) {
  if (rows.length === 0) return '<div class="empty">' + esc(empty) + "</div>";
  const head = cols.map((c) => {
    const sorted = sortable && sort.key === c.key;
    const text = esc(c.label) + (sorted ? (sort.desc ? " ▾" : " ▴") : "");
    const title = c.title ? ' title="' + esc(c.title) + '"' : "";
    return '<th scope="col" class="' + (c.num ? "num" : "") + '"' + (sorted ? ' aria-sort="' + (sort.desc ? "descending" : "ascending") + '"' : "") +
      (sortable ? '><button type="button" data-key="' + c.key + '"' + title + ">" + text + "</button>" : title + ">" + text) + "</th>";
  }).join("");
  const body = rows.map((r) => "<tr>" + cols.map((c) => '<td class="' + (c.num ? "num " : "") + (c.cls ? c.cls(r) : "") + '">' + c.show(r) + "</td>").join("") + "</tr>").join("");
  return '<table aria-label="' + esc(label) + '"><thead><tr>' + head + "</tr></thead><tbody>" + body + "</tbody></table>";
}

const red = (n) => (n > 0 ? "bad" : "");
const actorCols = [
  { key: "id", label: "actor", show: (a) => esc(a.id), cls: () => "wrap" },
  { key: "node", label: "node", show: (a) => nodeId(a.node), cls: () => "node-id wrap" },
  { key: "protocol", label: "protocol", show: (a) => esc(a.protocol) },
  { key: "state", label: "state", show: (a) => esc(a.state), cls: (a) => "state-" + esc(a.state) },
  { key: "mailbox", label: "mailbox", num: true, title: "Messages waiting / the mailbox's capacity", show: (a) => depth(a.mailbox, a.capacity) },
  { key: "throughput", label: "msg/s", num: true, title: "Messages handled per second (moving average; decays to 0 when idle)", show: (a) => rate(a.throughput) + spark(history.get(keyOf(a)) || []) },
  { key: "p50", label: "p50", num: true, title: "Median latency over the last interval, from arrival in the mailbox to the answer", show: (a) => ms(a.latency && a.latency.p50) },
  { key: "p99", label: "p99", num: true, title: "99th percentile latency over the last interval", show: (a) => ms(a.latency && a.latency.p99) },
  { key: "max", label: "max", num: true, title: "Slowest message since the actor was first inspected", show: (a) => a.histogram && a.histogram.max > 0 ? ms(a.histogram.max) : "—" },
  { key: "handled", label: "handled", num: true, title: "Messages handled since the actor was first inspected", show: (a) => count(a.handled) },
  { key: "failures", label: "errors", num: true, title: "Handlers that failed: declared errors, ActorErrors and defects", show: (a) => count(a.failures), cls: (a) => red(a.failures) },
  { key: "defects", label: "defects", num: true, title: "Handlers that died (a defect: a thrown exception or Effect.die)", show: (a) => count(a.defects), cls: (a) => red(a.defects) },
  { key: "restarts", label: "restarts", num: true, title: "Restarts by supervision", show: (a) => count(a.restarts), cls: (a) => red(a.restarts) },
  // the whole error as a tooltip: the cell cuts a long one short
  { key: "lastError", label: "last error", show: (a) => '<span title="' + esc(a.lastError) + '">' + esc(a.lastError) + "</span>", cls: () => "err" }
];

const sortValue = (a, key) => {
  const v = key === "p50" || key === "p99" ? a.latency && a.latency[key] : key === "max" ? a.histogram && a.histogram.max : a[key];
  return num(v) ? v : typeof v === "string" ? v.toLowerCase() : textKeys.includes(key) ? "" : -1;
};
const compare = (x, y) => (x < y ? -1 : x > y ? 1 : 0);

/** Every sample, drawn or not (paused): the sparklines and the unresponsive nodes' times keep counting. */
function receive(view) {
  latest = view;
  const down = new Set();
  for (const n of view.nodes) {
    if (n.status === "up") { downSince.delete(n.id); lastUp.set(n.id, n); }
    else { down.add(n.id); if (!downSince.has(n.id)) downSince.set(n.id, Date.now()); }
  }
  const ids = new Set(view.nodes.map((n) => n.id));
  for (const known of [downSince, lastUp]) for (const id of known.keys()) if (!ids.has(id)) known.delete(id);
  const live = new Set();
  for (const a of view.actors) {
    const k = keyOf(a);
    live.add(k);
    const h = history.get(k) || [];
    h.push(a.throughput);
    if (h.length > 60) h.shift();
    history.set(k, h);
  }
  // an unresponsive node's actors are missing from the sample, not gone: keep their history for its return
  for (const k of history.keys()) if (!live.has(k) && !down.has(k.split("\\n")[0])) history.delete(k);
  if (!paused) render(view);
}

function render(view) {
  try {
    draw(view);
    problem = undefined;
  } catch (e) {
    problem = "could not draw a sample: " + (e && e.message);
  }
  tick();
}

function nodeCard(n) {
  if (n.status !== "up") {
    const seen = lastUp.get(n.id);
    return '<div class="node unresponsive"><div class="head"><span class="id">' + esc(n.id) + '</span><span class="badge unresponsive">unresponsive</span></div>' +
      '<div class="bad">' + esc(n.error) + "</div>" +
      '<div class="meta">since ' + clock(downSince.get(n.id)) + (seen ? " · its " + plural(seen.actors, "actor") + " are not in this sample" : "") + "</div></div>";
  }
  const links = (n.links || []).map((l) =>
    "<li>→ " + esc(l.peer) + ' <span class="' + (l.status === "open" ? "meta" : "bad") + '">' + esc(l.status) + "</span>" +
    (l.pending > 0 ? " · " + count(l.pending) + " awaiting reply" : "") + (l.inbound > 0 ? " · " + count(l.inbound) + " being handled" : "") +
    (l.unsent > 0 ? " · " + plural(l.unsent, "frame") + " unsent" : "") +
    (l.castsWaiting > 0 ? ' · <span class="bad">' + plural(l.castsWaiting, "cast") + " waiting for credit</span>" : "") + "</li>").join("");
  return '<div class="node up"><div class="head"><span class="id">' + esc(n.id) + '</span><span class="badge up">up</span></div>' +
    '<div class="meta">pid ' + esc(n.pid ?? "—") + " · up " + dur(n.uptime) + "</div>" +
    (n.memory ? '<div class="meta">heap ' + bytes(n.memory.heapUsed) + " · rss " + bytes(n.memory.rss) + "</div>" : "") +
    "<div>" + plural(n.actors, "actor") + (n.omitted ? " (" + count(n.omitted) + " not listed)" : "") + " · " + plural((n.links || []).length, "link") + "</div>" +
    (n.passivated > 0 ? '<div class="meta">' + count(n.spawned) + " spawned · " + count(n.passivated) + " passivated (idle)</div>" : "") +
    (n.deadLetters > 0 ? '<div class="bad">' + plural(n.deadLetters, "dead letter") + "</div>" : "") +
    (n.recentDeadLetters || []).slice(-3).reverse().map((l) =>
      '<div class="meta" title="' + esc(l.message) + '">' + clock(l.at) + " " + esc(l.reason) + ": " + esc(l.kind) + " " +
      esc(l.name || "(a closed inbox)") + " to " + esc(l.target) + (l.from ? " from " + esc(l.from) : "") + "</div>").join("") +
    (n.kinds.length ? '<div class="meta">spawns: ' + n.kinds.map(esc).join(", ") + "</div>" : "") +
    (links ? "<ul>" + links + "</ul>" : "") + "</div>";
}

function draw(view) {
  shown = view;
  const total = view.actors.reduce((s, a) => s + (num(a.throughput) ? a.throughput : 0), 0);
  const down = view.nodes.filter((n) => n.status !== "up").length;
  const restarting = view.actors.filter((a) => a.state === "restarting").length;
  $("summary").textContent = plural(view.nodes.length, "node") + (down ? " (" + down + " unresponsive)" : "") + " · " + plural(view.actors.length, "actor") +
    (restarting ? " (" + restarting + " restarting)" : "") + " · " + rate(total) + " msg/s · sampled " + clock(view.at) + (num(view.interval) ? " every " + ms(view.interval) : "");
  // nodes answer in any order: sorted by id, a card stays in its place and a node's children follow it
  const byNode = (x, y) => compare(x.node, y.node) || compare(x.name, y.name);
  const nodes = view.nodes.slice().sort((x, y) => compare(x.id, y.id));
  $("nodes").innerHTML = nodes.length ? nodes.map(nodeCard).join("") : '<div class="empty">no sample yet</div>';
  const f = $("filter").value.trim().toLowerCase();
  const actors = view.actors.filter((a) => !f || (a.node + " " + a.id + " " + a.protocol + " " + a.state).toLowerCase().includes(f));
  // ties (many idle actors) keep a steady order, so rows do not swap places from one sample to the next
  actors.sort((x, y) => { const c = compare(sortValue(x, sort.key), sortValue(y, sort.key)); return (sort.desc ? -c : c) || compare(x.node, y.node) || compare(x.id, y.id); });
  $("actors").innerHTML = table("Actors", actorCols, actors.slice(0, maxRows), true, f && view.actors.length ? "no actor matches the filter" : "no actors");
  $("actors-note").textContent = (actors.length > maxRows ? "showing the first " + count(maxRows) + " of " + count(actors.length) + " (filter to narrow) · " : "") +
    (f ? count(actors.length) + " of " + plural(view.actors.length, "actor") + " match" : "");
  $("channels").innerHTML = table("Channels", [
    { label: "node", show: (c) => esc(c.node), cls: () => "node-id" }, { label: "channel", show: (c) => esc(c.name) }, { label: "inbox", show: (c) => esc(c.id) },
    { label: "queued", num: true, title: "Messages waiting / the inbox's capacity", show: (c) => depth(c.queued, c.capacity) },
    { label: "msg/s", num: true, title: "Messages taken per second (moving average)", show: (c) => rate(c.throughput) },
    { label: "received", num: true, title: "Messages the receiver took", show: (c) => count(c.received) },
    { label: "sender nodes", num: true, title: "Nodes sending to this inbox", show: (c) => count(c.senders) }
  ], view.channels.slice().sort(byNode), false, "no channels open");
  $("topics").innerHTML = table("Topics", [
    { label: "node", show: (t) => esc(t.node), cls: () => "node-id" }, { label: "topic", show: (t) => esc(t.name) },
    { label: "subscribers", num: true, title: "Subscribers on this node", show: (t) => count(t.subscribers) },
    { label: "neighbours", num: true, title: "Linked nodes that want this topic's publications", show: (t) => count(t.neighbours) },
    { label: "publications", num: true, title: "Publications made on this node", show: (t) => count(t.publications) },
    { label: "deliveries", num: true, title: "Publications handed to this node's subscribers", show: (t) => count(t.deliveries) },
    { label: "deliveries/s", num: true, show: (t) => rate(t.throughput) }
  ], view.topics.slice().sort(byNode), false, "no topics");
}

$("actors").addEventListener("click", (e) => {
  const button = e.target.closest && e.target.closest("button[data-key]");
  if (!button) return;
  const key = button.dataset.key;
  sort = { key, desc: sort.key === key ? !sort.desc : !textKeys.includes(key) };
  if (shown) render(shown);
  const again = $("actors").querySelector && $("actors").querySelector('button[data-key="' + key + '"]');
  if (again) again.focus();
});
$("filter").addEventListener("input", () => shown && render(shown));
$("pause").addEventListener("click", () => {
  paused = !paused;
  $("pause").textContent = paused ? "resume" : "pause";
  $("pause").setAttribute("aria-pressed", String(paused));
  if (!paused && latest) render(latest);
  else tick();
});

// ---------------------------------------------------------------- the connection
let source;
let lastSample = 0; // when the newest sample arrived
let lastAt; // and its own time, to tell a new sample from the same one sent again
let opened = 0; // when the current connection was made
let retries = 0;
let retryTimer;
let lostSince;

function status(text, cls) {
  const s = $("status");
  if (s.textContent !== text) s.textContent = text;
  if (s.className !== cls) s.className = cls;
}
function stale(is) { $("main").className = is ? "stale" : ""; }

function connect() {
  retryTimer = undefined;
  if (source) source.close();
  opened = Date.now();
  source = new EventSource("api/events");
  source.onmessage = (e) => {
    let view;
    try { view = JSON.parse(e.data); } catch (err) { problem = "unreadable sample"; tick(); return; }
    retries = 0;
    lostSince = undefined;
    if (view.at !== lastAt) { lastAt = view.at; lastSample = Date.now(); }
    receive(view);
    if (paused) tick();
  };
  source.onerror = () => {
    if (lostSince === undefined) lostSince = Date.now();
    status("disconnected since " + clock(lostSince) + ", retrying…", "down");
    stale(true);
    // the browser retries a dropped stream by itself, but gives up for good on an HTTP error (a proxy's
    // 502 while the program restarts): then this page tries again, less and less often
    if (source.readyState === 2 && retryTimer === undefined) retryTimer = setTimeout(connect, Math.min(30000, 1000 * 2 ** retries++));
  };
}

/**
 * Once a second: a stream can go quiet without an error (a proxy holding it open after the program went
 * away, a laptop that slept), so after a few missed samples the page says so and connects again.
 */
function tick() {
  if (lostSince !== undefined) return;
  const interval = latest && num(latest.interval) ? latest.interval : 1000;
  const limit = Math.max(5000, 3 * interval);
  const now = Date.now();
  if (latest && now - lastSample > limit) {
    status("no new sample since " + clock(lastAt) + ", reconnecting…", "warn");
    stale(true);
    if (now - opened > limit) connect();
    return;
  }
  stale(false);
  if (problem) status(problem, "down");
  else if (paused) status("paused", "warn");
  else status(latest ? "live" : "connecting…", latest ? "ok" : "");
}
setInterval(tick, 1000);
connect();
</script>
</body>
</html>
`
