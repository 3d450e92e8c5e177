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
<title>Troupe inspector</title>
<style>
  :root { --bg: #0f1115; --panel: #171a21; --line: #262b36; --text: #d8dee9; --dim: #7d8596;
          --accent: #7aa2f7; --ok: #9ece6a; --warn: #e0af68; --bad: #f7768e; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
         background: var(--bg); color: var(--text); }
  header { display: flex; gap: 16px; align-items: baseline; padding: 12px 20px; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 15px; margin: 0; color: var(--accent); }
  header .dim { color: var(--dim); }
  #status.down { color: var(--bad); }
  main { padding: 12px 20px 40px; }
  h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .08em; color: var(--dim); margin: 22px 0 8px; }
  .nodes { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 10px; }
  .node { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
  .node.unresponsive { border-color: var(--bad); }
  .node .id { color: var(--accent); word-break: break-all; }
  .node .meta { color: var(--dim); }
  table { width: 100%; border-collapse: collapse; background: var(--panel); border: 1px solid var(--line); }
  th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { color: var(--dim); font-weight: normal; cursor: pointer; user-select: none; }
  td.num, th.num { text-align: right; }
  tr:hover td { background: #1d212b; }
  .bar { display: inline-block; width: 60px; height: 6px; background: var(--line); border-radius: 3px;
         vertical-align: middle; margin-left: 6px; overflow: hidden; }
  .bar i { display: block; height: 100%; background: var(--ok); }
  .bar i.warn { background: var(--warn); } .bar i.bad { background: var(--bad); }
  .state-active { color: var(--ok); } .state-restarting, .state-stopping, .state-starting { color: var(--warn); }
  .state-terminated, .bad { color: var(--bad); }
  .err { color: var(--bad); max-width: 360px; overflow: hidden; text-overflow: ellipsis; }
  svg.spark { vertical-align: middle; }
  input { background: var(--panel); color: var(--text); border: 1px solid var(--line); border-radius: 4px;
          padding: 4px 8px; font: inherit; width: 260px; }
  .empty { color: var(--dim); padding: 8px 0; }
</style>
</head>
<body>
<header>
  <h1>Troupe inspector</h1>
  <span id="status" class="dim">connecting…</span>
  <span id="summary" class="dim"></span>
</header>
<main>
  <h2>Nodes</h2>
  <div id="nodes" class="nodes"></div>
  <h2>Actors <input id="filter" placeholder="filter by node, id or protocol"></h2>
  <div id="actors"></div>
  <h2>Channels</h2>
  <div id="channels"></div>
  <h2>Topics</h2>
  <div id="topics"></div>
</main>
<script>
"use strict";
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const $ = (id) => document.getElementById(id);
const history = new Map(); // actor key -> recent throughputs, for the sparklines
let sort = { key: "throughput", desc: true };
let last;

const num = (n) => typeof n === "number" && Number.isFinite(n);
const rate = (n) => !num(n) ? "—" : n >= 1000 ? (n / 1000).toFixed(n >= 1e5 ? 0 : 1) + "k" : n >= 10 ? n.toFixed(0) : n.toFixed(1);
const ms = (n) => !num(n) ? "—" : n < 1 ? (n * 1000).toFixed(0) + "µs" : n < 1000 ? n.toFixed(n < 10 ? 1 : 0) + "ms" : (n / 1000).toFixed(1) + "s";
const bytes = (n) => !num(n) ? "—" : n >= 1 << 20 ? (n / (1 << 20)).toFixed(0) + " MB" : (n / 1024).toFixed(0) + " KB";
const dur = (t) => { if (!num(t)) return "—"; const s = Math.floor(t / 1000); return s < 60 ? s + "s" : s < 3600 ? Math.floor(s / 60) + "m" : Math.floor(s / 3600) + "h" + (Math.floor(s / 60) % 60) + "m"; };

function spark(values) {
  const w = 80, h = 18, max = Math.max(1, ...values);
  const pts = values.map((v, i) => (i * w / Math.max(1, values.length - 1)).toFixed(1) + "," + (h - 1 - v / max * (h - 2)).toFixed(1)).join(" ");
  return '<svg class="spark" width="' + w + '" height="' + h + '"><polyline fill="none" stroke="#7aa2f7" stroke-width="1.2" points="' + pts + '"/></svg>';
}

function bar(n, cap) {
  const f = cap > 0 ? Math.min(1, n / cap) : 0;
  return '<span class="bar"><i class="' + (f > 0.9 ? "bad" : f > 0.5 ? "warn" : "") + '" style="width:' + (f * 100).toFixed(0) + '%"></i></span>';
}

function table(cols, rows, sortable) {
  if (rows.length === 0) return '<div class="empty">none</div>';
  const head = cols.map((c) => '<th class="' + (c.num ? "num" : "") + '"' + (sortable ? ' data-key="' + c.key + '"' : "") + ">" + esc(c.label) + (sortable && sort.key === c.key ? (sort.desc ? " ▾" : " ▴") : "") + "</th>").join("");
  const body = rows.map((r) => "<tr>" + cols.map((c) => '<td class="' + (c.num ? "num " : "") + (c.cls ? c.cls(r) : "") + '">' + c.show(r) + "</td>").join("") + "</tr>").join("");
  return "<table><thead><tr>" + head + "</tr></thead><tbody>" + body + "</tbody></table>";
}

const actorCols = [
  { key: "node", label: "node", show: (a) => esc(a.node) },
  { key: "id", label: "actor", show: (a) => esc(a.id) },
  { key: "protocol", label: "protocol", show: (a) => esc(a.protocol) },
  { key: "state", label: "state", show: (a) => esc(a.state), cls: (a) => "state-" + a.state },
  { key: "mailbox", label: "mailbox", num: true, show: (a) => a.mailbox + bar(a.mailbox, a.capacity) },
  { key: "throughput", label: "msg/s", num: true, show: (a) => rate(a.throughput) + " " + spark(history.get(a.node + "/" + a.id + "/" + a.incarnation) || []) },
  { key: "p50", label: "p50", num: true, show: (a) => ms(a.latency && a.latency.p50) },
  { key: "p99", label: "p99", num: true, show: (a) => ms(a.latency && a.latency.p99) },
  { key: "handled", label: "handled", num: true, show: (a) => a.handled },
  { key: "failures", label: "errors", num: true, show: (a) => a.failures, cls: (a) => a.failures > 0 ? "bad" : "" },
  { key: "restarts", label: "restarts", num: true, show: (a) => a.restarts, cls: (a) => a.restarts > 0 ? "bad" : "" },
  { key: "lastError", label: "last error", show: (a) => '<span title="' + esc(a.lastError) + '">' + esc(a.lastError) + "</span>", cls: () => "err" }
];

const sortValue = (a, key) => key === "p50" || key === "p99" ? (a.latency ? a.latency[key] : -1) : a[key];

function render(view) {
  try {
    draw(view);
    $("status").textContent = "live";
    $("status").className = "dim";
  } catch (e) {
    $("status").textContent = "could not draw a sample: " + (e && e.message);
    $("status").className = "down";
  }
}

function draw(view) {
  last = view;
  for (const a of view.actors) {
    const k = a.node + "/" + a.id + "/" + a.incarnation;
    const h = history.get(k) || [];
    h.push(a.throughput);
    if (h.length > 60) h.shift();
    history.set(k, h);
  }
  const live = new Set(view.actors.map((a) => a.node + "/" + a.id + "/" + a.incarnation));
  for (const k of history.keys()) if (!live.has(k)) history.delete(k);
  const total = view.actors.reduce((s, a) => s + (num(a.throughput) ? a.throughput : 0), 0);
  $("summary").textContent = view.nodes.length + " nodes · " + view.actors.length + " actors · " + rate(total) + " msg/s · sampled " + new Date(view.at).toLocaleTimeString();
  $("nodes").innerHTML = view.nodes.map((n) =>
    '<div class="node ' + n.status + '"><div class="id">' + esc(n.id) + "</div>" +
    (n.status === "up"
      ? '<div class="meta">pid ' + esc(n.pid) + " · up " + dur(n.uptime) + (n.memory ? " · heap " + bytes(n.memory.heapUsed) : "") + "</div>" +
        "<div>" + n.actors + " actors" + (n.omitted ? " (" + n.omitted + " not listed)" : "") + " · " + n.links.length + " links</div>" +
        (n.kinds.length ? '<div class="meta">kinds: ' + n.kinds.map(esc).join(", ") + "</div>" : "")
      : '<div class="bad">unresponsive: ' + esc(n.error) + "</div>") + "</div>").join("");
  const f = $("filter").value.toLowerCase();
  const actors = view.actors.filter((a) => !f || (a.node + " " + a.id + " " + a.protocol).toLowerCase().includes(f));
  actors.sort((x, y) => { const a = sortValue(x, sort.key), b = sortValue(y, sort.key); const c = a < b ? -1 : a > b ? 1 : 0; return sort.desc ? -c : c; });
  $("actors").innerHTML = table(actorCols, actors, true);
  $("channels").innerHTML = table([
    { label: "node", show: (c) => esc(c.node) }, { label: "channel", show: (c) => esc(c.name) }, { label: "inbox", show: (c) => esc(c.id) },
    { label: "queued", num: true, show: (c) => c.queued + bar(c.queued, c.capacity) }, { label: "msg/s", num: true, show: (c) => rate(c.throughput) },
    { label: "received", num: true, show: (c) => c.received }, { label: "sender nodes", num: true, show: (c) => c.senders }
  ], view.channels, false);
  $("topics").innerHTML = table([
    { label: "node", show: (t) => esc(t.node) }, { label: "topic", show: (t) => esc(t.name) },
    { label: "subscribers", num: true, show: (t) => t.subscribers }, { label: "neighbours", num: true, show: (t) => t.neighbours },
    { label: "deliveries/s", num: true, show: (t) => rate(t.throughput) }, { label: "publications", num: true, show: (t) => t.publications }
  ], view.topics, false);
}

$("actors").addEventListener("click", (e) => {
  const key = e.target.closest("th") && e.target.closest("th").dataset.key;
  if (!key) return;
  sort = { key, desc: sort.key === key ? !sort.desc : true };
  if (last) render(last);
});
$("filter").addEventListener("input", () => last && render(last));

function connect() {
  const events = new EventSource("api/events");
  events.onopen = () => { $("status").textContent = "live"; $("status").className = "dim"; };
  events.onmessage = (e) => { try { render(JSON.parse(e.data)); } catch (err) { $("status").textContent = "unreadable sample"; } };
  events.onerror = () => { $("status").textContent = "disconnected, retrying…"; $("status").className = "down"; };
}
connect();
</script>
</body>
</html>
`
