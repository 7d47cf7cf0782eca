// The notice editor's live checks: as the author types, the text being
// edited is sent to the check API and the checks panel redrawn. Without
// this file the panel shows the checks made when the page loaded and on
// every save.
"use strict";
(function () {
  var form = document.getElementById("notice-form");
  var body = document.getElementById("checks-body");
  if (!form || !body || !form.dataset.check) return;
  var url = form.dataset.check;
  var token = form.querySelector('input[name="csrf_token"]').value;
  var timer = null, seq = 0;

  function val(name) {
    var el = form.elements.namedItem(name);
    return el && "value" in el ? el.value : "";
  }

  // content mirrors what the server reads from the form (parseNoticeForm).
  function content() {
    var c = {subject: val("subject"), body: val("body"), variants: []};
    var n = parseInt(val("variant_count"), 10) || 0;
    for (var i = 0; i < n; i++) {
      var p = "variants[" + i + "].";
      var rm = form.elements.namedItem(p + "remove");
      var v = {name: val(p + "name"), segment_id: parseInt(val(p + "segment_id"), 10) || 0,
        locale: val(p + "locale").trim(), subject: val(p + "subject"), body: val(p + "body")};
      if ((rm && rm.checked) || (!v.name && !v.segment_id && !v.locale && !v.subject && !v.body)) continue;
      c.variants.push(v);
    }
    return c;
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function fieldID(f) {
    return "f-" + f.replace(/\./g, "-").replace(/\[/g, "-").replace(/\]/g, "").replace(/_/g, "-");
  }

  function draw(rep, c) {
    var where = function (i) {
      return i >= 0 && i < c.variants.length ? "Variant \u201c" + c.variants[i].name + "\u201d" : "Default text";
    };
    var frag = document.createDocumentFragment();
    frag.appendChild(el("p", "checks-status meta", "Checked as you typed, at " + new Date().toLocaleTimeString() + "."));
    var shown = [], grades = [], problems = 0;
    (rep.findings || []).forEach(function (f) {
      if (f.key === "readability" && f.level === "info") { grades.push(f); return; }
      if (f.level !== "info") problems++;
      shown.push(f);
    });
    if (problems) {
      var sum = el("p", "checks-sum");
      sum.appendChild(el("strong", "", problems + (problems === 1 ? " problem" : " problems")));
      frag.appendChild(sum);
    } else {
      var ok = el("p", "checks-ok");
      ok.appendChild(el("span", "badge on", "Pass"));
      ok.appendChild(document.createTextNode(" No problems found."));
      frag.appendChild(ok);
    }
    if (shown.length) {
      var ul = el("ul", "findings");
      shown.forEach(function (f) {
        var li = el("li", "finding finding-" + f.level);
        li.appendChild(el("span", "badge level level-" + f.level, f.level));
        var w = el("span", "finding-where", where(f.variant));
        if (f.field) {
          w.appendChild(document.createTextNode(" \u00b7 "));
          var a = el("a", "", f.field);
          a.href = "#" + fieldID(f.field);
          w.appendChild(a);
        }
        li.appendChild(w);
        li.appendChild(el("span", "finding-msg", f.message));
        if (f.citation) {
          var cite = el("span", "finding-cite");
          if (f.source_url && /^https?:\/\//.test(f.source_url)) {
            var ca = el("a", "", f.citation);
            ca.href = f.source_url;
            ca.rel = "noopener noreferrer";
            cite.appendChild(ca);
          } else {
            cite.textContent = f.citation;
          }
          li.appendChild(cite);
        }
        ul.appendChild(li);
      });
      frag.appendChild(ul);
    }
    grades.forEach(function (f) {
      var p = el("p", "readability");
      p.appendChild(el("strong", "", "Readability"));
      p.appendChild(document.createTextNode(" (" + where(f.variant) + "): " + f.message));
      frag.appendChild(p);
    });
    // The recipients table comes from the server's count of the saved
    // audience; keep it as it is.
    var keep = body.querySelector(".checks-h");
    var nodes = [];
    for (var n = keep; n; n = n.nextSibling) nodes.push(n);
    if (rep.variants && keep) {
      var tbody = body.querySelector("tbody");
      if (tbody) {
        var last = tbody.lastElementChild;
        while (tbody.firstElementChild && tbody.firstElementChild !== last) tbody.removeChild(tbody.firstElementChild);
        rep.variants.forEach(function (v) {
          var tr = el("tr");
          tr.appendChild(el("td", "", v.name));
          tr.appendChild(el("td", "num", String(v.count)));
          tbody.insertBefore(tr, last);
        });
        last.lastElementChild.textContent = String(rep.unreachable);
      }
    }
    body.textContent = "";
    body.appendChild(frag);
    nodes.forEach(function (n) { body.appendChild(n); });
  }

  function check() {
    var mine = ++seq;
    var c = content();
    var status = body.querySelector(".checks-status");
    if (status) { status.textContent = "Checking\u2026"; }
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
      body: JSON.stringify({content: c})
    }).then(function (r) {
      return r.json().then(function (j) { return {ok: r.ok, j: j}; });
    }).then(function (res) {
      if (mine !== seq) return;
      if (!res.ok) {
        if (status) status.textContent = "The checks could not run: " + ((res.j.error && res.j.error.message) || "error") + ".";
        return;
      }
      draw(res.j, c);
    }).catch(function () {
      if (mine === seq && status) status.textContent = "The checks could not run (offline?); they run again on save.";
    });
  }

  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 500);
  });
  form.addEventListener("change", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 200);
  });
})();
