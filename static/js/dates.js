// Dates in the reader's own locale and time zone: each <time data-when datetime="…"> written by
// the server (the `when` template filter) is shown the way the browser's language writes it,
// with the exact moment on hover. Loaded by the app's pages and the review panel's.
(function () {
  "use strict";

  const shown = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const exact = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });

  function localise(root) {
    root.querySelectorAll("time[data-when]").forEach(function (element) {
      const moment = new Date(element.dateTime);
      if (Number.isNaN(moment.getTime())) return;
      element.textContent = shown.format(moment);
      element.title = exact.format(moment);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { localise(document); });
  document.addEventListener("htmx:load", function (event) { localise(event.target); });
})();
