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
