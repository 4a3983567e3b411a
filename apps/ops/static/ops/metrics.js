// The metrics screen: four uPlot charts of one queue (or all) over the last hour or day.
window.opsMetrics = (function () {
  const seconds = (s) => (s === null || s === undefined ? "–" : s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(1)} s`);
  // id -> the data's series, its colour, and the summary over the range.
  const CHARTS = {
    throughput: {key: "throughput", color: "#417690", total: (t) => `${t.done} finished`, value: (t) => t.done},
    failures: {key: "failures", color: "#ba2121", total: (t) => `${t.failed} failed`, value: (t) => t.failed},
    wait: {key: "wait_max_s", color: "#b7791f", total: (t) => `longest ${seconds(t.wait_max_s)}`, value: (t) => t.wait_max_s},
    p95: {key: "runtime_p95_s", color: "#2a7a2a", total: (t) => `over the range ${seconds(t.runtime_p95_s)}`, value: (t) => t.runtime_p95_s},
  };
  const charts = {};
  const params = new URLSearchParams(location.search);
  const state = {queue: params.get("queue") || "", range: params.get("range") === "24h" ? "24h" : "1h"};
  let url, timer;

  function chart(id, data) {
    const el = document.getElementById(`chart-${id}`);
    const spec = CHARTS[id];
    const series = [data.t, data[spec.key]];
    if (!charts[id]) {
      const opts = {
        width: Math.max(320, el.clientWidth), height: 200,
        scales: {x: {time: true}},
        series: [{}, {label: el.querySelector("h2").firstChild.textContent, stroke: spec.color, width: 2,
          fill: `${spec.color}22`, points: {show: true, size: 4}}],
        axes: [{}, {size: 60}],
        // The data this chart last drew, for people reading the page and for its tests.
        hooks: {draw: [(u) => { el.dataset.drawn = String(u.data[1].filter((v) => v !== null).length); }]},
      };
      charts[id] = new uPlot(opts, series, el);
    } else {
      charts[id].setData(series);
    }
    el.querySelector(".total").textContent = ` — ${spec.total(data.totals)}`;
    el.dataset.total = String(spec.value(data.totals) ?? "");
  }

  async function refresh() {
    const query = new URLSearchParams({queue: state.queue, range: state.range});
    const status = document.getElementById("status");
    let r;
    try {
      r = await fetch(`${url}?${query}`, {credentials: "same-origin"});
    } catch (e) {
      status.textContent = `refresh failed: ${e}`; return;
    }
    const d = await r.json().catch(() => ({}));
    if (!r.ok) { status.textContent = (d.error && d.error.message) || `HTTP ${r.status}`; return; }
    status.textContent = "";
    Object.keys(CHARTS).forEach((id) => chart(id, d));
    document.getElementById("metrics").dataset.shown = `${d.queue || ""}|${d.range}`;
    document.getElementById("updated").textContent = new Date().toLocaleTimeString();
  }

  function show() {
    document.getElementById("queue").value = state.queue;
    document.querySelectorAll("#ranges button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.range === state.range)));
    history.replaceState(null, "", `?${new URLSearchParams(state)}`);
    clearInterval(timer);
    timer = setInterval(refresh, state.range === "1h" ? 10000 : 60000);
    refresh();
  }

  function start(dataUrl) {
    url = dataUrl;
    document.getElementById("queue").onchange = (e) => { state.queue = e.target.value; show(); };
    document.querySelectorAll("#ranges button").forEach((b) => { b.onclick = () => { state.range = b.dataset.range; show(); }; });
    window.addEventListener("resize", () => Object.values(charts).forEach((u) => u.setSize({width: Math.max(320, u.root.parentNode.clientWidth), height: 200})));
    show();
  }

  return {start, charts};
})();
