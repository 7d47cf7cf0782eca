// Live progress of releases: while a release is sending or scheduled, ask
// /releases/{id}/progress.json every second and redraw its bar, numbers,
// state and controls. It stops once the release is done, cancelled or
// paused. Without this file the page shows the numbers of when it loaded.
"use strict";
(function () {
  var STATES = ["running", "scheduled", "paused", "cancelled", "done"];

  function fmt(n) { return Number(n || 0).toLocaleString("en-US"); }

  function field(box, name) { return box.querySelector('[data-field="' + name + '"]'); }

  function setText(el, text) {
    if (el && el.textContent !== text) el.textContent = text;
  }

  function draw(box, p) {
    var label = field(box, "label");
    if (label) {
      STATES.forEach(function (s) { label.classList.remove("rstate-" + s); });
      label.classList.add("rstate-" + p.state);
    }
    setText(field(box, "label-text"), p.label);
    box.setAttribute("data-state", p.state);
    setText(field(box, "percent"), p.percent + "%");
    var bar = box.querySelector("progress");
    if (bar) {
      bar.value = p.percent;
      bar.textContent = p.percent + "%";
    }
    setText(field(box, "finished"), fmt(p.finished));
    setText(field(box, "total"), fmt(p.total));
    setText(field(box, "rate"), p.rate);
    setText(field(box, "eta"), p.eta);
    Object.keys(p.counts || {}).forEach(function (s) {
      var dd = box.querySelector('[data-count="' + s + '"]');
      if (!dd) return;
      setText(dd, fmt(p.counts[s]));
      dd.classList.toggle("zero", !p.counts[s]);
    });
    var note = field(box, "note-box");
    if (note) {
      note.hidden = !p.note;
      note.classList.toggle("release-note-paused", p.state === "paused");
      setText(field(box, "note"), p.note || "");
      setText(field(box, "reason"), p.reason || "No reason was given.");
    }
    // Show only the controls the new state allows.
    box.querySelectorAll("[data-when]").forEach(function (el) {
      el.hidden = (" " + el.getAttribute("data-when") + " ").indexOf(" " + p.state + " ") < 0;
    });
  }

  function watch(box) {
    var url = box.getAttribute("data-url");
    var status = field(box, "status");
    var wait = 1000;
    function tick() {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}, cache: "no-store"})
        .then(function (r) {
          return r.json().then(function (body) { return {ok: r.ok, status: r.status, body: body}; });
        })
        .then(function (res) {
          if (!res.ok) {
            setText(status, res.body && res.body.error ? res.body.error : "Could not update the progress (" + res.status + ").");
            // Signed out, not allowed or gone: asking again will not help.
            if (res.status === 401 || res.status === 403 || res.status === 404) return;
            wait = Math.min(wait * 2, 10000);
            setTimeout(tick, wait);
            return;
          }
          var p = res.body;
          var was = box.getAttribute("data-state");
          draw(box, p);
          wait = 1000;
          if (p.live) {
            setText(status, "");
            setTimeout(tick, wait);
            return;
          }
          box.removeAttribute("data-live");
          if (was !== p.state) {
            setText(status, p.state === "done" ? "Finished: every message has reached a final state." : "The release is now " + p.label.toLowerCase() + ".");
          } else {
            setText(status, "");
          }
        })
        .catch(function () {
          setText(status, "Could not reach Candor to update the progress; trying again.");
          wait = Math.min(wait * 2, 10000);
          setTimeout(tick, wait);
        });
    }
    setTimeout(tick, wait);
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.fetch) return;
    document.querySelectorAll("[data-release-progress][data-live]").forEach(watch);
  });
})();
