// The lines of a dub's editor (projects/templates/projects/dub_detail.html), read from the
// board below it, which the server renders with every line's rules. A moved or cropped line is
// posted to its change address; the board comes back checked again and the blocks are drawn
// from it, so the rules of a dub have one home. The status line says the focused line's rules
// in the board's words; the original sound's slider is heard at once while listening.

import { placeOf, where } from "./line-blocks.js";
import { formatVolume, msToSecondsText } from "./time.js";

const SAVE_AFTER_KEYS_MS = 400; // a run of key presses is sent once, when it pauses
const SHORTEST_PART_MS = 100; // a crop keeps some sound: the server refuses an empty one

/** The lines as the board lists them, in the words of line-blocks.js. */
function readLines(board) {
  if (!board) return [];
  return Array.from(board.querySelectorAll("[data-dub-line]")).map(function (node) {
    const cropStartMs = Number(node.dataset.cropStartMs);
    return {
      id: node.dataset.dubLine,
      person: node.dataset.person,
      name: "Person " + node.dataset.person + "'s line",
      label: node.dataset.label,
      clipLabel: node.dataset.label,
      atMs: Number(node.dataset.atMs),
      cropStartMs: cropStartMs,
      cropEndMs: cropStartMs + Number(node.dataset.durationMs),
      clipMs: Number(node.dataset.clipMs),
      volume: Number(node.dataset.volume),
      audioUrl: node.dataset.audioUrl,
      problem: node.dataset.problem || "",
    };
  });
}

export class BoardSource {
  constructor(editor) {
    const root = editor.root;
    const volume = Number(root.dataset.originalVolume);
    this.editor = editor;
    this.selector = root.dataset.tlBoard;
    this.editable = root.hasAttribute("data-editable");
    this.changeUrl = root.dataset.changeUrl || "";
    this.volume = Number.isFinite(volume) ? volume : 1;
    this.shortestMs = SHORTEST_PART_MS;
    this.commitDelayMs = SAVE_AFTER_KEYS_MS;
    this.statusLine = root.querySelector("[data-tl-say]");
    this.board = null;
    this.lineData = [];
  }

  start() {
    this.wireOriginalVolume();
    this.boardChanged();
    // The board is swapped by htmx (a line moved, or the progress polled): draw it again.
    this.editor.listen(document.body, "htmx:afterSettle", () => {
      if (document.querySelector(this.selector) !== this.board) this.boardChanged();
    });
  }

  /** The original sound's slider is heard at once while listening; "Set" keeps it. */
  wireOriginalVolume() {
    const slider = this.editor.root.querySelector("#dub-original-volume");
    if (!slider) return;
    const output = this.editor.root.querySelector("output[for='dub-original-volume']");
    slider.addEventListener("input", () => {
      const volume = Number(slider.value);
      if (!Number.isFinite(volume)) return;
      this.volume = volume;
      output.textContent = formatVolume(volume);
      this.editor.mix.refresh();
    });
  }

  boardChanged() {
    this.board = document.querySelector(this.selector);
    this.lineData = readLines(this.board);
    this.editor.linesChanged();
    // A refused move is told at the top of the board; else the moved line's rules are told.
    const refusal = this.board && this.board.querySelector("[data-dub-line-error]");
    const focused = this.editor.blocks.focusedLine();
    if (refusal) this.say(refusal.textContent);
    else if (focused) this.tell(focused);
  }

  lines() {
    return this.lineData;
  }

  latestStartMs() {
    return Math.max(0, this.editor.page.videoMs - 1);
  }

  change(line, place) {
    this.say(line.name + ": " + where(place) + "…");
  }

  /** Post the line's new place; the board that answers redraws every block. */
  commit(line, place, release) {
    const was = placeOf(line);
    if (["atMs", "cropStartMs", "cropEndMs"].every((key) => place[key] === was[key])) {
      release();
      this.tell(line);
      return;
    }
    const url = this.changeUrl.replace(/\/0\/change\/$/, "/" + line.id + "/change/");
    const settled = () => {
      release();
      this.boardChanged();
    };
    window.htmx.ajax("POST", url, {
      source: this.editor.blocks.blocks.get(line.id),
      target: this.selector,
      swap: "outerHTML",
      values: {
        at: msToSecondsText(place.atMs),
        crop_start: msToSecondsText(place.cropStartMs),
        crop_end: msToSecondsText(place.cropEndMs),
      },
    }).then(settled, settled);
  }

  /** Say what a line's rules think of it, in the board's words. */
  tell(line) {
    this.say(line.name + ": " + where(placeOf(line)) + ". " + (line.problem || "It meets every rule."));
  }

  say(text) {
    this.statusLine.textContent = text;
  }

  /** "Listen to the dub": every line's crop at its time, with its volume. */
  mixSounds() {
    return this.lineData.map(function (line) {
      return {
        key: line.id, url: line.audioUrl, atMs: line.atMs, fromMs: line.cropStartMs,
        lengthMs: line.cropEndMs - line.cropStartMs, volume: line.volume,
      };
    });
  }

  originalVolume() {
    return this.volume;
  }

  destroy() {}
}
