/* Candor security-incident banner: a bar at the top of this page while an
   incident is open. No dependencies, no network requests, no inline styles. */
(function (d) {
  var doc = document, key = "candor-banner:" + d.p, bar;
  try { if (localStorage.getItem(key) === d.v) return; } catch (e) {}
  var lang = (doc.documentElement.lang || "").toLowerCase().split("-")[0];
  if (!d.t[lang]) lang = "en";
  var t = d.t[lang];
  function el(tag, css, text) {
    var e = doc.createElement(tag);
    for (var k in css) e.style[k] = css[k];
    if (text) e.textContent = text;
    return e;
  }
  function ring(e) {
    e.addEventListener("focus", function () { e.style.outline = "3px solid #ffd23f"; e.style.outlineOffset = "2px"; });
    e.addEventListener("blur", function () { e.style.outline = ""; });
    return e;
  }
  function show() {
    if (bar || !doc.body) return;
    var font = { font: "16px/1.5 system-ui, sans-serif", color: "#fff" };
    bar = el("div", { display: "flex", flexWrap: "wrap", alignItems: "center", gap: "8px 16px", padding: "12px 16px", background: "#a8201a", color: "#fff", font: font.font, position: "relative", zIndex: "2147483647", boxSizing: "border-box", width: "100%", textAlign: "left" });
    bar.setAttribute("role", "region");
    bar.setAttribute("aria-label", t[3]);
    bar.lang = lang;
    bar.id = "candor-banner";
    bar.appendChild(el("strong", font, t[0]));
    var a = ring(el("a", { font: font.font, color: "#fff", fontWeight: "700", textDecoration: "underline" }, t[1]));
    a.href = d.u;
    bar.appendChild(a);
    var b = ring(el("button", { marginLeft: "auto", minWidth: "44px", minHeight: "44px", padding: "0 12px", background: "transparent", color: "#fff", border: "2px solid #fff", borderRadius: "4px", font: "700 20px/1 system-ui, sans-serif", cursor: "pointer" }, "\u00d7"));
    b.type = "button";
    b.setAttribute("aria-label", t[2]);
    b.addEventListener("click", function () {
      try { localStorage.setItem(key, d.v); } catch (e) {}
      bar.parentNode.removeChild(bar);
    });
    bar.appendChild(b);
    doc.body.insertBefore(bar, doc.body.firstChild);
  }
  show();
  if (!bar) doc.addEventListener("DOMContentLoaded", show);
})({{.}});
