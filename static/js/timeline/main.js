// The entry module of the editor, loaded as <script type="module"> by
// projects/includes/timeline.html (the video page: a clip over the chosen face) and by the dub
// page (a dub's lines, a row per person). It starts one Editor per [data-timeline] when the page
// has been parsed and on every htmx swap, and lets go of editors whose markup htmx removes.
// A module runs once per page, so an include rendered twice still wires each editor once.
// `editors` (element -> Editor) is exported for the browser tests, which import this module.

import { Editor } from "./editor.js";

const SELECTOR = "[data-timeline]";

export const editors = new Map();

export function start(scope) {
  const roots = scope.matches && scope.matches(SELECTOR)
    ? [scope] : Array.from(scope.querySelectorAll(SELECTOR));
  roots.forEach(function (root) {
    if (!editors.has(root)) editors.set(root, new Editor(root));
  });
}

// htmx may swap the form (for example to show the server's errors): let go of the old editor.
export function stop(scope) {
  editors.forEach(function (editor, root) {
    if (scope === root || scope.contains(root)) {
      editor.destroy();
      editors.delete(root);
    }
  });
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", function () { start(document); });
} else {
  start(document);
}
document.addEventListener("htmx:load", function (event) { start(event.target); });
document.addEventListener("htmx:beforeCleanupElement", function (event) { stop(event.target); });
