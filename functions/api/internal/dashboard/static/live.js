// promptml dashboard: live refresh of a running run's pages (overview and
// event log). A page is complete without this script; it only appends new
// events, updates the progress bars and reloads once the run ends.
(function () {
  "use strict";
  var log = document.getElementById("events");
  if (!log || log.dataset.status !== "running") return;
  var run = log.dataset.run, seen = {}, last = "";
  Array.prototype.forEach.call(log.children, function (li) {
    if (li.dataset.id) seen[li.dataset.id] = true;
    if (li.dataset.time) last = li.dataset.time;
  });
  function get(path) {
    return fetch(path, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(path + ": " + r.status);
      return r.json();
    });
  }
  function text(tag, cls, s) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    e.textContent = s;
    return e;
  }
  // usd prints a cost as the server's "usd" template function does.
  function usd(v) {
    if (!v) return "$0";
    return "$" + v.toFixed(v < 0.01 ? 4 : 2);
  }
  function events() {
    var q = last ? "?after=" + encodeURIComponent(new Date(Date.parse(last) - 1000).toISOString()) : "";
    return get("/runs/" + run + "/events" + q).then(function (b) {
      var redraw = false;
      b.events.forEach(function (ev) {
        if (seen[ev.id]) return;
        seen[ev.id] = true;
        var li = document.createElement("li");
        li.appendChild(text("time", "", new Date(ev.time).toISOString().slice(11, 19)));
        li.appendChild(document.createTextNode(" "));
        li.appendChild(text("span", "k k-" + ev.kind, ev.kind));
        li.appendChild(document.createTextNode(" " + ev.message));
        var empty = log.querySelector("li.muted:not([data-id])"); // "No event yet."
        if (empty) log.removeChild(empty);
        log.appendChild(li);
        if (ev.time > last) last = ev.time;
        if (ev.kind === "decision") redraw = true;
      });
      // A decided epoch changes the chart and the epoch table, which are
      // drawn on the server: fetch the page again.
      if (redraw && document.getElementById("chart")) location.reload();
      log.scrollTop = log.scrollHeight;
    });
  }
  function progress() {
    var box = document.getElementById("progress");
    if (!box) return Promise.resolve();
    return get("/runs/" + run + "/phases").then(function (b) {
      var running = b.phases.filter(function (p) { return p.state === "pending"; });
      box.textContent = "";
      if (!running.length) { box.appendChild(text("p", "muted", "Waiting for the next phase…")); return; }
      running.forEach(function (p) {
        var d = text("div", "bar", "");
        d.appendChild(text("span", "label", p.id));
        var bar = document.createElement("progress");
        bar.max = p.total_batches; bar.value = p.done_batches;
        d.appendChild(bar);
        var u = p.usage || {};
        d.appendChild(text("span", "usage", " " + p.done_batches + "/" + p.total_batches + " batches · " + (u.calls || 0) + " calls" +
          (u.cache_hits ? " (+" + u.cache_hits + " cached)" : "") + " · " + usd(u.cost_usd || 0)));
        box.appendChild(d);
      });
    });
  }
  function tick() {
    get("/runs/" + run).then(function (r) {
      if (r.status !== "running") { location.reload(); return; }
      return Promise.all([events(), progress()]);
    }).catch(function () {}).then(function () { setTimeout(tick, 2000); });
  }
  setTimeout(tick, 2000);
})();
