// tillbridge console: a few lines of vanilla JS (embedded, no build step). Pages work
// without it; it adds live progress and "select all" for bulk actions.
(function () {
  "use strict";
  // Live progress: an element with data-poll="<json url>" polls every second while the
  // migration is busy, and reloads the page once it is not (to show the report).
  var box = document.querySelector("[data-poll]");
  if (box) {
    var busy = ["pending", "validating", "applying", "rolling_back"];
    var tick = function () {
      fetch(box.getAttribute("data-poll"), { headers: { accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (m) {
          if (!m) { setTimeout(tick, 1000); return; }
          // Settled: the page is rendered again (report, actions) rather than patched.
          if (busy.indexOf(String(m.status)) < 0) { window.location.reload(); return; }
          var bar = box.querySelector("progress");
          var pct = Number(m.percent) || 0;
          if (bar) { bar.value = pct; }
          var t = box.querySelector("[data-percent]");
          if (t) { t.textContent = pct + " %"; }
          var s = document.querySelector("[data-status]");
          if (s) { s.textContent = String(m.status); }
          setTimeout(tick, 1000);
        })
        .catch(function () { setTimeout(tick, 1000); });
    };
    setTimeout(tick, 1000);
  }
  // A file picked for upload is read into its form's text box (the form posts text).
  document.querySelectorAll("input[type=file][data-read-into]").forEach(function (input) {
    input.addEventListener("change", function () {
      var box = document.getElementById(input.getAttribute("data-read-into"));
      var file = input.files && input.files[0];
      if (!box || !file) { return; }
      file.text().then(function (t) { box.value = t; });
    });
  });
  // "Select all" checkboxes of bulk forms.
  document.querySelectorAll("[data-select-all]").forEach(function (all) {
    all.addEventListener("change", function () {
      var form = all.closest("form");
      if (!form) { return; }
      form.querySelectorAll("input[type=checkbox][name=accept]").forEach(function (c) { c.checked = all.checked; });
    });
  });
})();
