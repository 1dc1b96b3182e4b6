// The video page's rules panel (FormSource) and the task form's submit buttons. The buttons
// follow the rules at once; the sentences (from rules.js, in an aria-live region) follow 300 ms
// after the last change, or at once when a drag or key ends, so a screen reader is not flooded.
// Under the broken rules, one fix for all of them ("Do it for me"), or the one sentence saying
// what to change instead.
// A blocked submit button stays focusable (aria-disabled, described by the panel): pressing
// it sends nothing and takes the keyboard to the first thing to fix.

import { overlapMs, seconds } from "../rules.js";

const STATUS_DELAY_MS = 300; // screen readers hear the rules once a drag settles, not per pixel

function fixLine(fix) {
  const line = document.createElement("p");
  line.className = "tl-fix";
  const sentence = document.createElement("span");
  sentence.id = "timeline-fix-sentence";
  sentence.textContent = fix.sentence + " ";
  line.appendChild(sentence);
  if (fix.canApply) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "tl-apply";
    button.textContent = "Do it for me";
    button.setAttribute("aria-describedby", sentence.id);
    line.appendChild(button);
  }
  return line;
}

export class StatusPanel {
  constructor(source) {
    this.source = source;
    this.panel = source.root.querySelector("[data-tl-status]");
    this.panel.id = this.panel.id || "timeline-status";
    this.panel.hidden = false;
    this.timer = null;
    this.lastText = null;
    this.fix = null;
    this.pending = null; // the sentences due after the delay
    this.blocked = false;
    const form = source.root.closest("form");
    this.submits = form
      ? Array.from(form.querySelectorAll("button[type=submit], input[type=submit], button:not([type])"))
        .filter(function (button) {
          // A button marked data-tl-always (say, "Save draft") stays usable whatever the rules.
          return !source.root.contains(button) && !button.hasAttribute("data-tl-always");
        })
      : [];
    const panelId = this.panel.id;
    this.submits.forEach(function (button) {
      const described = button.getAttribute("aria-describedby") || "";
      if (!described.split(" ").includes(panelId)) {
        button.setAttribute("aria-describedby", (described + " " + panelId).trim());
      }
    });
    this.panel.addEventListener("click", this.onApply.bind(this));
    if (form) source.listen(form, "submit", this.onSubmit.bind(this));
  }

  /** The submit button follows the rules at once; the sentences follow once things settle. */
  update(violations, fix, immediately) {
    this.blocked = violations.length > 0;
    const blocked = String(this.blocked);
    this.submits.forEach(function (button) { button.setAttribute("aria-disabled", blocked); });
    clearTimeout(this.timer);
    this.pending = [violations, fix];
    if (immediately) this.renderPending();
    else this.timer = setTimeout(this.renderPending.bind(this), STATUS_DELAY_MS);
  }

  renderPending() {
    clearTimeout(this.timer);
    if (this.pending) this.render(this.pending[0], this.pending[1]);
    this.pending = null;
  }

  /** A blocked line is not sent: the keyboard goes to the first thing to fix instead. */
  onSubmit(event) {
    if (!this.blocked) return;
    if (event.submitter && event.submitter.hasAttribute("data-tl-always")) return;
    event.preventDefault();
    this.renderPending();
    const first = this.panel.querySelector("li");
    if (first) first.focus();
  }

  render(violations, fix) {
    this.fix = fix;
    const ready = violations.length ? null : this.readySentence();
    const text = ready ||
      violations.map(function (v) { return v.text; }).concat(fix ? [fix.sentence] : []).join("\n");
    if (text === this.lastText) return; // unchanged sentences are not read out again
    this.lastText = text;
    if (ready) {
      const sentence = document.createElement("p");
      sentence.textContent = ready;
      this.panel.replaceChildren(sentence);
      this.panel.className = "tl-status tl-status-ok";
      return;
    }
    const list = document.createElement("ul");
    violations.forEach(function (violation) {
      const item = document.createElement("li");
      item.tabIndex = -1; // a blocked submit sends the keyboard here
      item.textContent = violation.text;
      list.appendChild(item);
    });
    const title = document.createElement("p");
    title.textContent = violations.length === 1 ? "One thing to fix before sending:" :
      violations.length + " things to fix before sending:";
    this.panel.replaceChildren(title, list);
    if (fix) this.panel.appendChild(fixLine(fix));
    this.panel.className = "tl-status tl-status-bad";
  }

  readySentence() {
    const state = this.source.state;
    const face = this.source.face();
    const lengthMs = state.endMs - state.startMs;
    const end = state.insertMs + lengthMs;
    const overlap = overlapMs(state.insertMs, end, face.startMs, face.endMs);
    return "✓ Ready: " + seconds(lengthMs) + " of speech from " +
      seconds(state.insertMs) + " to " + seconds(end) +
      " on the video, over the face for " + seconds(overlap) + ".";
  }

  onApply(event) {
    if (!event.target.closest(".tl-apply") || !this.fix || !this.fix.canApply) return;
    this.source.applyFix(this.fix);
  }
}
