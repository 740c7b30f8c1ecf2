// triops console: live parts of a page. An element with data-live="URL" is refreshed
// from URL (an HTML fragment) every data-interval seconds while the page is visible;
// an answer with the header X-Live-Done stops it (a finished job). A 401 reloads the
// page, which leads to the sign-in page. Nothing else runs here: every action is a
// plain form, and every page works without this script (reload to refresh).
(function () {
  "use strict";
  function start(el) {
    var url = el.getAttribute("data-live");
    var every = Math.max(1, parseFloat(el.getAttribute("data-interval") || "5")) * 1000;
    var busy = false;
    var timer = null;
    function tick() {
      if (busy || document.hidden) { return; }
      if (el.contains(document.activeElement) && document.activeElement !== el) { return; }
      busy = true;
      el.setAttribute("aria-busy", "true");
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (response.status === 401) { window.location.reload(); return null; }
          if (!response.ok) { return null; }
          if (response.headers.get("X-Live-Done")) { clearInterval(timer); }
          return response.text();
        })
        .then(function (html) { if (html !== null && html !== undefined) { el.innerHTML = html; } })
        .catch(function () { /* the next tick tries again */ })
        .finally(function () { busy = false; el.removeAttribute("aria-busy"); });
    }
    timer = setInterval(tick, every);
    if (el.hasAttribute("data-live-now")) { tick(); }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var live = document.querySelectorAll("[data-live]");
    for (var i = 0; i < live.length; i++) { start(live[i]); }
  });
})();
