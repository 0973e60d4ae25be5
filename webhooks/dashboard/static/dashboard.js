// autorec dashboard: fetch the page's live part again every refresh period and swap it in.
// No framework; the server renders every fragment (with its CSRF tokens). A 401 means the
// session ended: go to the login form. A failed fetch marks the page stale until one works.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) {
    return;
  }
  var url = live.getAttribute("data-fragment");
  var periodMs = parseInt(live.getAttribute("data-refresh-ms"), 10) || 1000;
  var busy = false;

  function stale(on) {
    document.body.classList.toggle("is-stale", on);
  }

  function refresh() {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.status === 401) {
          window.location.assign("/dashboard/login");
          return null;
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        if (html !== null) {
          live.innerHTML = html;
          live.setAttribute("data-refreshed", String(Date.now()));
          stale(false);
        }
      })
      .catch(function () {
        stale(true);
      })
      .finally(function () {
        busy = false;
      });
  }

  window.setInterval(refresh, periodMs);
})();
