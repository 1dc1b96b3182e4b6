// The dub's editor (projects/templates/projects/dub_detail.html): the video with the timeline's
// ruler, pictures, zoom and playhead (VideoTrack), one row per person showing when they are on
// screen, and their lines as blocks (dub-lines.js). The lines are read from the board below the
// editor, which the server renders with every line's rules; a moved line is posted, the board
// comes back checked again, and the blocks are drawn from it, so the rules have one home.

import { DEFAULT_LIMITS } from "../rules.js";
import { TimelineBase } from "./base.js";
import { LineBlocks, readLines } from "./dub-lines.js";
import { wirePlayer } from "./editor-wiring.js";
import { MixPlayer } from "./mix-player.js";
import { readStrip } from "./page-data.js";
import { formatVolume } from "./time.js";
import { VideoTrack } from "./video-track.js";

const BOARD = "#dub-board";

function readDubPage(root) {
  const original = Number(root.dataset.originalVolume);
  return {
    videoMs: Number(root.dataset.durationMs) || 0,
    strip: readStrip(root, "#dub-video-strip"),
    originalVolume: Number.isFinite(original) ? original : 1,
    editable: root.hasAttribute("data-editable"),
    changeUrl: root.dataset.changeUrl || "",
    limits: DEFAULT_LIMITS,
  };
}

export class DubEditor extends TimelineBase {
  constructor(root) {
    super(root, readDubPage(root));
    this.video.removeAttribute("controls"); // the transport below plays it
    this.statusLine = root.querySelector("[data-dub-status]");
    this.track = new VideoTrack(this);
    this.lines = new LineBlocks(this);
    this.mix = new MixPlayer(this);
    this.board = null;
    this.lineData = [];
    wirePlayer(this);
    this.wireOriginalVolume();
    this.track.zoomTo(1, 0);
    this.boardChanged();
    // The board is swapped by htmx (a line moved, or the progress polled): draw it again.
    this.listen(document.body, "htmx:afterSettle", () => {
      if (document.querySelector(BOARD) !== this.board) this.boardChanged();
    });
  }

  /** The original sound's slider is heard at once while listening; "Set" keeps it. */
  wireOriginalVolume() {
    const slider = this.root.querySelector("#dub-original-volume");
    if (!slider) return;
    const output = this.root.querySelector("output[for='dub-original-volume']");
    slider.addEventListener("input", () => {
      const volume = Number(slider.value);
      if (!Number.isFinite(volume)) return;
      this.page.originalVolume = volume;
      output.textContent = formatVolume(volume);
      this.mix.refresh();
    });
  }

  boardChanged() {
    this.board = document.querySelector(BOARD);
    this.lineData = readLines(this.board);
    this.lines.draw(this.lineData);
    this.mix.refresh();
    // A refused move is told at the top of the board; else the moved line's rules are told.
    const refusal = this.board && this.board.querySelector("[data-dub-line-error]");
    if (refusal) this.say(refusal.textContent);
    else this.lines.tellFocused();
  }

  /** "Listen to the dub": every line's crop at its time, with its volume. */
  mixSounds() {
    return this.lineData.map(function (line) {
      return {
        key: line.id, url: line.audioUrl, atMs: line.atMs, fromMs: line.cropStartMs,
        lengthMs: line.durationMs, volume: line.volume,
      };
    });
  }

  mixOriginalVolume() {
    return this.page.originalVolume;
  }

  say(text) {
    this.statusLine.textContent = text;
  }

  destroy() {
    super.destroy();
    this.mix.destroy();
    this.lines.destroy();
    this.track.destroy();
  }
}
