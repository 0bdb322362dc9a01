// RosterHub web UI: the few lines of script the pages need. Without script the pages still
// read, filter and page; uploads need it (they go to the admin API with the CSRF header).
"use strict";
(function () {
  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // htmx requests carry the session's CSRF token (the admin API's rule for cookie sessions).
  document.addEventListener("htmx:configRequest", function (e) {
    if (csrf()) { e.detail.headers["X-CSRF-Token"] = csrf(); }
  });

  // Replaces the import page's body with its fresh fragment (the result, without a reload).
  function showImport(id, target) {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", "/ui/imports/" + encodeURIComponent(id));
    xhr.setRequestHeader("HX-Request", "true");
    xhr.onload = function () {
      if (xhr.status === 200) {
        target.innerHTML = xhr.responseText;
        follow(target);
        if (target.getAttribute("data-upload")) { target.scrollIntoView(); }
      }
    };
    xhr.send();
  }

  // Follows a running job's events and shows its phase and rows; at the end, the result.
  function follow(root) {
    var live = root.querySelector("[data-events]");
    var job = root.querySelector("[data-job]");
    if (!live || !job || !window.EventSource) { return; }
    var phase = document.getElementById("upload-phase");
    var source = new EventSource(live.getAttribute("data-events"));
    source.addEventListener("progress", function (e) {
      var d = JSON.parse(e.data);
      var p = d.progress || {};
      var label = phase ? phase.getAttribute("data-phase") : "";
      var text = label + (p.file ? ": " + p.file : "") +
        (p.rows !== undefined ? " · " + p.rows + " " + (phase ? phase.getAttribute("data-rows") : "") : "");
      live.textContent = text;
      if (phase) { phase.textContent = text; }
    });
    source.addEventListener("state", function () {
      source.close();
      var status = document.getElementById("upload-status");
      if (status) { status.hidden = true; }
      var target = document.getElementById("import-body") || document.getElementById("upload-result");
      showImport(job.getAttribute("data-job"), target);
    });
    source.onerror = function () { source.close(); };
  }

  function upload(form) {
    var file = form.querySelector("#bundle").files[0];
    if (!file) { return; }
    var status = document.getElementById("upload-status");
    var bar = document.getElementById("upload-bar");
    var phase = document.getElementById("upload-phase");
    var result = document.getElementById("upload-result");
    status.hidden = false;
    result.innerHTML = "";
    var q = "?encoding=" + encodeURIComponent(form.querySelector("#encoding").value);
    if (form.querySelector("#dry_run").checked) { q += "&dry_run=true"; }
    if (form.querySelector("#rollover").checked) { q += "&rollover=true"; }
    ["mapping", "school", "school_year"].forEach(function (name) {
      var v = form.querySelector("#" + name).value.trim();
      if (v) { q += "&" + name + "=" + encodeURIComponent(v); }
    });
    var body = new FormData();
    body.append("bundle", file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.getAttribute("data-api") + q);
    xhr.setRequestHeader("X-CSRF-Token", csrf());
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); }
    };
    xhr.onload = function () {
      var d = {};
      try { d = JSON.parse(xhr.responseText); } catch (err) { d = {}; }
      if (xhr.status === 202 && d.id) {
        bar.value = 100;
        phase.textContent = phase.getAttribute("data-sent");
        result.setAttribute("data-upload", "1");
        showImport(d.id, result);
      } else {
        phase.textContent = phase.getAttribute("data-failed") + ": " + (d.message || xhr.status);
      }
    };
    xhr.onerror = function () { phase.textContent = phase.getAttribute("data-failed"); };
    xhr.send(body);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("upload-form");
    if (form) {
      form.addEventListener("submit", function (e) { e.preventDefault(); upload(form); });
      var drop = document.getElementById("drop");
      var input = document.getElementById("bundle");
      ["dragenter", "dragover"].forEach(function (t) {
        drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add("over"); });
      });
      ["dragleave", "drop"].forEach(function (t) {
        drop.addEventListener(t, function () { drop.classList.remove("over"); });
      });
      drop.addEventListener("drop", function (e) {
        e.preventDefault();
        if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; }
      });
    }
    var body = document.getElementById("import-body");
    if (body) { follow(body); }
    // A new client secret's copy button (the secret is shown once).
    document.querySelectorAll("[data-copy]").forEach(function (b) {
      b.addEventListener("click", function () {
        var text = document.getElementById(b.getAttribute("data-copy")).textContent;
        if (navigator.clipboard) {
          navigator.clipboard.writeText(text).then(function () {
            var done = b.parentNode.querySelector("[data-copied]");
            if (done) { done.hidden = false; }
          });
        }
      });
    });
  });
})();
