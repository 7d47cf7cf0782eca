// Small progressive touches; every page works without this file.
"use strict";
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  var msg = form.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) {
    ev.preventDefault();
    return;
  }
  // A second click while the first request is on its way would send the
  // form twice; in a crisis people click twice.
  if (form.dataset.sent === "1") {
    ev.preventDefault();
    return;
  }
  form.dataset.sent = "1";
  setTimeout(function () { form.dataset.sent = ""; }, 4000);
});
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("conflict") || document.getElementById("error-summary");
  if (summary) summary.focus();
  var secret = document.getElementById("f-secret");
  if (secret) secret.addEventListener("focus", function () { secret.select(); });
});

// Import upload: send the file with XMLHttpRequest so the page can show how
// much has gone (the server imports it as it arrives). The plain form post
// works the same without this.
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  if (!form.hasAttribute("data-upload") || ev.defaultPrevented || !window.FormData || !window.XMLHttpRequest) return;
  var file = form.querySelector('input[type="file"]');
  if (!file || !file.files || !file.files.length) return;
  ev.preventDefault();
  var box = document.getElementById("upload-progress");
  var bar = document.getElementById("upload-bar");
  var status = document.getElementById("upload-status");
  var size = file.files[0].size;
  box.hidden = false;
  var started = Date.now();
  var xhr = new XMLHttpRequest();
  xhr.open("POST", form.action);
  xhr.upload.onprogress = function (e) {
    if (!e.lengthComputable) return;
    var pct = Math.floor(e.loaded * 100 / e.total);
    bar.value = pct;
    var secs = (Date.now() - started) / 1000;
    var rate = secs > 0 ? e.loaded / secs : 0;
    var left = rate > 0 ? Math.round((e.total - e.loaded) / rate) : 0;
    status.textContent = pct + "% of " + (size / 1048576).toFixed(1) + " MiB sent and imported" + (left > 1 ? ", about " + left + " s left" : "");
  };
  xhr.upload.onload = function () {
    bar.value = 100;
    status.textContent = "Finishing the import…";
  };
  xhr.onload = function () {
    // A finished import redirects to its report; anything else is a page
    // saying what went wrong, shown in place of this one.
    if (xhr.responseURL && xhr.responseURL.indexOf("/imports/") >= 0) {
      window.location.href = xhr.responseURL;
      return;
    }
    var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
    var main = doc.querySelector("main");
    if (main) {
      document.querySelector("main").replaceWith(main);
      document.title = doc.title;
      var summary = document.getElementById("error-summary");
      if (summary) summary.focus();
    } else {
      status.textContent = "The import failed (" + xhr.status + "). Try again.";
    }
  };
  xhr.onerror = function () {
    status.textContent = "The upload broke off. Nothing was imported; try again.";
    form.dataset.sent = "";
  };
  xhr.send(new FormData(form));
});

// Segment editor: count matching members as the rule is edited. Without
// this, the Count button does the same by reloading the page.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-live-count]");
  if (!form || !window.fetch) return;
  var out = document.getElementById("live-count");
  var timer = null;
  var seq = 0;
  function count() {
    var mine = ++seq;
    out.classList.add("stale");
    var body = new URLSearchParams(new FormData(form));
    body.delete("action");
    fetch(form.getAttribute("data-live-count"), {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
      body: body.toString()
    }).then(function (r) { return r.json(); }).then(function (c) {
      if (mine !== seq) return;
      out.classList.remove("stale");
      out.textContent = "";
      if (c.error) {
        var s = document.createElement("span");
        s.className = "field-error";
        s.textContent = c.error;
        out.appendChild(s);
        return;
      }
      var n = document.createElement("strong");
      n.id = "count-matching";
      n.textContent = c.matching.toLocaleString("en-US");
      out.appendChild(n);
      out.appendChild(document.createTextNode(" of " + c.members.toLocaleString("en-US") + " members match"));
      if (c.text) {
        out.appendChild(document.createTextNode(": "));
        var code = document.createElement("code");
        code.textContent = c.text;
        out.appendChild(code);
      }
    }).catch(function () {
      if (mine === seq) out.classList.remove("stale");
    });
  }
  function later() {
    clearTimeout(timer);
    timer = setTimeout(count, 250);
  }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  count();
});
