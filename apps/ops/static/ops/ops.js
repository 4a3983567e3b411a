// What the operations pages share: cells, tables, progress bars and staff POSTs.
window.ops = (function () {
  const text = (v) => (v === null || v === undefined ? "–" : String(v));
  const time = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
  const cell = (value, cls) => { const td = document.createElement("td"); td.textContent = text(value); if (cls) td.className = cls; return td; };
  // With the operations page's address, each tag links to its entity's timeline.
  const tags = (list, base) => { const td = document.createElement("td"); (list || []).forEach((t) => { const s = document.createElement(base ? "a" : "span"); s.className = "tag"; s.textContent = t; if (base) s.href = `${base}timeline/?tag=${encodeURIComponent(t)}`; td.appendChild(s); }); return td; };
  const secs = (v) => (v === null || v === undefined ? null : v.toFixed(3));
  const fill = (id, rows, make) => { const body = document.querySelector(`#${id} tbody`); body.replaceChildren(...rows.map(make)); };
  const progress = (percent) => { const td = cell("", "num"); const bar = document.createElement("progress"); bar.max = 100; bar.value = percent; td.append(bar, ` ${percent} %`); return td; };
  const button = (label, action, onclick) => { const b = document.createElement("button"); b.type = "button"; b.className = "button"; b.textContent = label; b.dataset.action = action; b.onclick = onclick; return b; };
  const csrf = () => document.querySelector("[name=csrfmiddlewaretoken]").value;
  async function post(url, then) {
    const r = await fetch(url, {method: "POST", credentials: "same-origin", headers: {"X-CSRFToken": csrf()}});
    const d = await r.json().catch(() => ({}));
    document.getElementById("status").textContent = r.ok ? "done" : (d.error && d.error.message) || `HTTP ${r.status}`;
    if (then) then();
  }
  // A batch's state in a word, and the buttons that apply to it.
  const batchState = (b) => (b.finished_at ? (b.cancelled_at ? "finished, cancelled" : "finished") : (b.cancelled_at ? "cancelled" : "running"));
  function batchButtons(base, b, then) {
    const td = document.createElement("td");
    if (b.failed) td.appendChild(button("retry failed", "retry", () => post(`${base}batches/${b.id}/retry/`, then)));
    if (!b.finished_at && !b.cancelled_at) td.appendChild(button("cancel", "cancel", () => post(`${base}batches/${b.id}/cancel/`, then)));
    return td;
  }
  return {text, time, cell, tags, secs, fill, progress, button, post, batchState, batchButtons};
})();
