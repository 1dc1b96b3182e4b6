// A dub's lines as blocks on their person's row of the dub editor. A block is dragged with the
// pointer or moved with ← → (Shift for 1 s steps), like the timeline's clip; its two edges crop
// the part of the clip it uses the same ways (the sound under the edge stays where it is on the
// video). A change is sent to the server (the line's change address) once it ends; the board
// that comes back says what each line's rules now think of it, and the blocks are drawn from
// that board again.

import { seconds } from "../rules.js";
import { bindHorizontalDrag, bindSliderKeys, setSliderValues } from "./sliders.js";
import { clamp, msToSecondsText, percentOf, timecode } from "./time.js";

const SAVE_AFTER_KEYS_MS = 400; // a run of key presses is sent once, when it pauses
const SHORTEST_PART_MS = 100; // a crop keeps some sound: the server refuses an empty one

/** The lines as the board lists them (projects/templates/projects/dub_detail.html). */
export function readLines(board) {
  if (!board) return [];
  return Array.from(board.querySelectorAll("[data-dub-line]")).map(function (node) {
    return {
      id: node.dataset.dubLine,
      person: node.dataset.person,
      atMs: Number(node.dataset.atMs),
      durationMs: Number(node.dataset.durationMs),
      cropStartMs: Number(node.dataset.cropStartMs),
      cropEndMs: Number(node.dataset.cropStartMs) + Number(node.dataset.durationMs),
      clipMs: Number(node.dataset.clipMs),
      volume: Number(node.dataset.volume),
      audioUrl: node.dataset.audioUrl,
      label: node.dataset.label,
      problem: node.dataset.problem || "",
    };
  });
}

/** Where a line is: its start on the video and the part of its clip, in ms. */
function placeOf(line) {
  return { atMs: line.atMs, cropStartMs: line.cropStartMs, cropEndMs: line.cropEndMs };
}

export class LineBlocks {
  constructor(editor) {
    this.editor = editor;
    this.blocks = new Map(); // line id -> block element
    this.drafts = new Map(); // line id -> a place being dragged or keyed, not yet sent
    this.timers = new Map();
  }

  draw(lines) {
    const wanted = new Set();
    lines.forEach((line) => {
      const lane = this.editor.root.querySelector("[data-dub-person='" + line.person + "']");
      if (!lane) return;
      wanted.add(line.id);
      const block = this.blocks.get(line.id) || this.makeBlock(line.id);
      if (block.parentNode !== lane) {
        lane.appendChild(block);
        if (block.edges) lane.append(block.edges.start, block.edges.end);
      }
      block.line = line;
      block.classList.toggle("dub-block-bad", Boolean(line.problem));
      if (!this.drafts.has(line.id)) this.place(block, placeOf(line));
    });
    this.blocks.forEach((block, id) => {
      if (!wanted.has(id)) {
        block.remove();
        if (block.edges) Object.values(block.edges).forEach((edge) => edge.remove());
        this.blocks.delete(id);
      }
    });
  }

  makeBlock(id) {
    const block = document.createElement("div");
    block.className = "tl-clip-block dub-block";
    block.tabIndex = 0;
    block.setAttribute("role", "slider");
    block.dataset.dubBlock = id;
    const label = document.createElement("span");
    label.className = "tl-clip-label";
    block.appendChild(label);
    this.blocks.set(id, block);
    block.addEventListener("focus", () => this.tell(block));
    if (this.editor.page.editable) {
      this.wireMoves(block);
      block.edges = { start: this.makeEdge(block, "start"), end: this.makeEdge(block, "end") };
    } else {
      block.setAttribute("aria-readonly", "true");
    }
    return block;
  }

  /** An edge of the block: a slider of its own, beside the block in its row (controls are not
   *  nested), that crops the clip's part from that side. */
  makeEdge(block, side) {
    const edge = document.createElement("span");
    edge.className = "dub-block-edge dub-block-edge-" + side;
    edge.tabIndex = 0;
    edge.setAttribute("role", "slider");
    edge.dataset.dubEdge = side;
    edge.dataset.dubEdgeOf = block.dataset.dubBlock;
    let from = null;
    bindHorizontalDrag(edge, {
      start: () => { from = this.current(block); },
      move: (dx) => {
        this.cropTo(block, side, this.edgeMs(from, side) + Math.round(dx * this.msPerPixel()));
      },
      end: () => this.send(block),
    });
    bindSliderKeys(edge, () => this.edgeMs(this.current(block), side),
      () => this.edgeRange(block, side), (ms) => {
        this.cropTo(block, side, ms);
        this.sendSoon(block);
      });
    edge.addEventListener("focus", () => this.tell(block));
    return edge;
  }

  msPerPixel() {
    return this.editor.track.msPerPixel();
  }

  current(block) {
    return this.drafts.get(block.line.id) || placeOf(block.line);
  }

  /** An edge's time on the video. */
  edgeMs(place, side) {
    return side === "start" ? place.atMs : place.atMs + place.cropEndMs - place.cropStartMs;
  }

  /** How far an edge may go: inside the clip and the video, keeping some sound. */
  edgeRange(block, side) {
    const place = this.current(block);
    const clipMs = block.line.clipMs || place.cropEndMs;
    if (side === "start") {
      const earliest = Math.max(0, place.atMs - place.cropStartMs);
      return [earliest, this.edgeMs(place, "end") - SHORTEST_PART_MS];
    }
    const latest = Math.min(this.editor.page.videoMs, place.atMs + clipMs - place.cropStartMs);
    return [place.atMs + SHORTEST_PART_MS, latest];
  }

  /** Move one edge to `atMs` on the video; the sound under the other edge stays put. */
  cropTo(block, side, atMs) {
    const range = this.edgeRange(block, side);
    const to = clamp(Math.round(atMs), range[0], range[1]);
    const place = Object.assign({}, this.current(block));
    if (side === "start") {
      place.cropStartMs += to - place.atMs;
      place.atMs = to;
    } else {
      place.cropEndMs = place.cropStartMs + (to - place.atMs);
    }
    this.drafts.set(block.line.id, place);
    this.place(block, place);
    this.editor.say("Person " + block.line.person + "'s line: " + this.where(place) + "…");
  }

  latestStartMs() {
    return Math.max(0, this.editor.page.videoMs - 1);
  }

  place(block, place) {
    const line = block.line;
    const videoMs = this.editor.page.videoMs;
    const lengthMs = place.cropEndMs - place.cropStartMs;
    block.style.left = percentOf(place.atMs, videoMs);
    block.style.width = percentOf(Math.min(lengthMs, videoMs - place.atMs), videoMs);
    block.firstChild.textContent = line.label;
    block.title = this.where(place) + (line.problem ? ". " + line.problem : "");
    setSliderValues(block, place.atMs, 0, this.latestStartMs(), this.where(place));
    block.setAttribute("aria-label", "Person " + line.person + "'s line: " + line.label);
    if (!block.edges) return;
    block.edges.start.style.left = percentOf(place.atMs, videoMs);
    block.edges.end.style.left = percentOf(Math.min(place.atMs + lengthMs, videoMs), videoMs);
    [["start", "Where person " + line.person + "'s line starts in its clip"],
      ["end", "Where person " + line.person + "'s line ends in its clip"]].forEach((pair) => {
      const side = pair[0];
      const edge = block.edges[side];
      const range = this.edgeRange(block, side);
      const clipAt = side === "start" ? place.cropStartMs : place.cropEndMs;
      setSliderValues(edge, this.edgeMs(place, side), range[0], range[1],
        seconds(clipAt) + " into " + line.label + ", heard at " + timecode(this.edgeMs(place, side)));
      edge.setAttribute("aria-label", pair[1]);
    });
  }

  where(place) {
    const lengthMs = place.cropEndMs - place.cropStartMs;
    return "From " + timecode(place.atMs) + " to " + timecode(place.atMs + lengthMs) + " (" +
      seconds(lengthMs) + ")";
  }

  wireMoves(block) {
    let from = null;
    bindHorizontalDrag(block, {
      start: () => { from = this.current(block); },
      move: (dx) => this.moveTo(block, from.atMs + Math.round(dx * this.msPerPixel())),
      end: () => this.send(block),
    });
    bindSliderKeys(block, () => this.current(block).atMs, () => [0, this.latestStartMs()], (ms) => {
      this.moveTo(block, ms);
      this.sendSoon(block);
    });
  }

  moveTo(block, atMs) {
    const place = Object.assign({}, this.current(block));
    place.atMs = clamp(Math.round(atMs), 0, this.latestStartMs());
    this.drafts.set(block.line.id, place);
    this.place(block, place);
    this.editor.say("Person " + block.line.person + "'s line: " + this.where(place) + "…");
  }

  sendSoon(block) {
    clearTimeout(this.timers.get(block.line.id));
    this.timers.set(block.line.id, setTimeout(() => this.send(block), SAVE_AFTER_KEYS_MS));
  }

  /** Post the line's new place; the board that answers redraws every block. */
  send(block) {
    const id = block.line.id;
    const place = this.drafts.get(id);
    if (!place) return;
    const was = placeOf(block.line);
    if (["atMs", "cropStartMs", "cropEndMs"].every((key) => place[key] === was[key])) {
      this.drafts.delete(id);
      this.tell(block);
      return;
    }
    const url = this.editor.page.changeUrl.replace(/\/0\/change\/$/, "/" + id + "/change/");
    const settled = () => {
      if (this.drafts.get(id) === place) this.drafts.delete(id);
      this.editor.boardChanged();
    };
    window.htmx.ajax("POST", url, {
      source: block,
      target: "#dub-board",
      swap: "outerHTML",
      values: {
        at: msToSecondsText(place.atMs),
        crop_start: msToSecondsText(place.cropStartMs),
        crop_end: msToSecondsText(place.cropEndMs),
      },
    }).then(settled, settled);
  }

  /** Say what the focused line's rules think of it, in the board's words. */
  tellFocused() {
    const focused = document.activeElement;
    const id = focused && focused.dataset ? focused.dataset.dubBlock || focused.dataset.dubEdgeOf : "";
    const block = id && this.blocks.get(id);
    if (block) this.tell(block);
  }

  tell(block) {
    const line = block.line;
    const where = "Person " + line.person + "'s line: " + this.where(placeOf(line)) + ". ";
    this.editor.say(where + (line.problem || "It meets every rule."));
  }

  destroy() {
    this.timers.forEach(function (timer) { clearTimeout(timer); });
  }
}
