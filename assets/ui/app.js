// RosterHub web UI: the few lines of script the pages need; every page works without it.
"use strict";
(function () {
  // htmx requests carry the session's CSRF token (the admin API's rule for cookie sessions).
  document.addEventListener("htmx:configRequest", function (e) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) { e.detail.headers["X-CSRF-Token"] = meta.content; }
  });
})();
