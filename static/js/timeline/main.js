// The entry module of the editors, loaded as <script type="module"> by
// projects/includes/timeline.html (one Editor per [data-timeline]: a clip on the video page) and
// by the dub page (one DubEditor per [data-dub-timeline]: a dub's lines, a row per person). It
// starts them when the page has been parsed and on every htmx swap, and lets go of editors
// whose markup htmx removes.
// A module runs once per page, so an include rendered twice still wires each editor once.
// `editors` (element -> Editor) is exported for the browser tests, which import this module.

import { DubEditor } from "./dub-editor.js";
import { Editor } from "./editor.js";

const KINDS = [["[data-timeline]", Editor], ["[data-dub-timeline]", DubEditor]];

export const editors = new Map();

export function start(scope) {
  KINDS.forEach(function ([selector, Kind]) {
    const roots = scope.matches && scope.matches(selector)
      ? [scope] : Array.from(scope.querySelectorAll(selector));
    roots.forEach(function (root) {
      if (!editors.has(root)) editors.set(root, new Kind(root));
    });
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
