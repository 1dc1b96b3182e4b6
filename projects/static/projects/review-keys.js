// Keys on a task's page in the review panel: A approves, R rejects (asking for the note first,
// which Ctrl+Enter then sends), N opens the next task awaiting review. They act only while the
// focus is not in a text box, and a checkbox on the page turns them off (remembered in this
// browser), as single-key shortcuts must allow (WCAG 2.1.4) for people who speak commands.

const STORE_KEY = "lipsync.reviewKeys";

function typingIn(target) {
  return Boolean(target.closest && target.closest("input, textarea, select, [contenteditable]"));
}

function start() {
  const help = document.querySelector("[data-review-keys]");
  if (!help) return;
  const approve = document.querySelector("[data-review-approve]");
  const reject = document.querySelector("[data-review-reject]");
  const next = document.querySelector("[data-review-next]");
  const note = document.getElementById("review-note");
  const hint = document.querySelector("[data-review-hint]");
  const enabled = help.querySelector("[data-review-keys-on]");
  let rejectWhenNoted = false; // R asked for the note: Ctrl+Enter in it then rejects

  enabled.checked = localStorage.getItem(STORE_KEY) !== "off";
  enabled.addEventListener("change", function () {
    localStorage.setItem(STORE_KEY, enabled.checked ? "on" : "off");
  });
  help.hidden = false;

  function inNote(event) {
    if (event.key === "Escape") {
      note.blur(); // the single keys work again
    } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && rejectWhenNoted) {
      event.preventDefault();
      if (note.value.trim()) reject.click();
    }
  }

  function askForNote() {
    rejectWhenNoted = true;
    hint.textContent = "Write a note for the editor, then press Ctrl+Enter to reject.";
    note.focus();
  }

  document.addEventListener("keydown", function (event) {
    if (note && event.target === note) {
      inNote(event);
      return;
    }
    if (!enabled.checked || event.ctrlKey || event.altKey || event.metaKey || event.repeat) return;
    if (typingIn(event.target)) return;
    const key = event.key.toLowerCase();
    if (key === "a" && approve) {
      event.preventDefault();
      approve.click();
    } else if (key === "r" && reject) {
      event.preventDefault();
      if (note.value.trim()) reject.click();
      else askForNote();
    } else if (key === "n" && next) {
      event.preventDefault();
      next.click();
    }
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
