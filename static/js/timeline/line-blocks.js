// Lines as blocks on their person's row, on both pages. A block is dragged with the pointer or
// moved with ← → (Shift for 1 s steps); its two edges crop the part of the clip it uses the same
// ways (the sound under the other edge stays where it is on the video). While a block or an
// edge moves, its place is a draft drawn here and told to the editor's source; when the move
// ends (a drag let go, a run of keys paused) the source commits it, and the blocks are drawn
// again from the lines the source gives.
//
// A line: {id, person (its row), name ("Person 1's line"), label (on the block), clipLabel,
// atMs, cropStartMs, cropEndMs, clipMs, problem}. The source gives: editable, shortestMs (the
// shortest crop a drag or key makes), commitDelayMs (after keys), latestStartMs(place),
// change(line, place), commit(line, place, release) (it calls release() once the draft may go,
// before drawing the lines again) and tell(line).

import { seconds } from "../rules.js";
import { bindHorizontalDrag, bindSliderKeys, setSliderValues } from "./sliders.js";
import { clamp, percentOf, timecode } from "./time.js";

/** Where a line is: its start on the video and the part of its clip, in ms. */
export function placeOf(line) {
  return { atMs: line.atMs, cropStartMs: line.cropStartMs, cropEndMs: line.cropEndMs };
}

/** "From 0:02.0 to 0:04.5 (2.5 s)": a place in words. */
export function where(place) {
  const lengthMs = place.cropEndMs - place.cropStartMs;
  return "From " + timecode(place.atMs) + " to " + timecode(place.atMs + lengthMs) + " (" +
    seconds(lengthMs) + ")";
}

function lowerFirst(text) {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

export class LineBlocks {
  constructor(editor) {
    this.editor = editor;
    this.blocks = new Map(); // line id -> block element
    this.drafts = new Map(); // line id -> a place being dragged or keyed, not yet committed
    this.timers = new Map();
  }

  source() {
    return this.editor.source;
  }

  draw(lines) {
    const wanted = new Set();
    lines.forEach((line) => {
      const lane = this.editor.root.querySelector("[data-tl-person='" + line.person + "']");
      if (!lane) return;
      wanted.add(line.id);
      const block = this.blocks.get(line.id) || this.makeBlock(line.id);
      if (block.parentNode !== lane) {
        lane.appendChild(block);
        if (block.edges) lane.append(block.edges.start, block.edges.end);
      }
      block.line = line;
      block.classList.toggle("tl-block-bad", Boolean(line.problem));
      if (!this.drafts.has(line.id)) this.place(block, placeOf(line));
    });
    this.blocks.forEach((block, id) => {
      if (wanted.has(id)) return;
      block.remove();
      if (block.edges) Object.values(block.edges).forEach((edge) => edge.remove());
      this.blocks.delete(id);
    });
  }

  makeBlock(id) {
    const block = document.createElement("div");
    block.className = "tl-block";
    block.tabIndex = 0;
    block.setAttribute("role", "slider");
    block.dataset.tlBlock = id;
    const label = document.createElement("span");
    label.className = "tl-block-label";
    block.appendChild(label);
    this.blocks.set(id, block);
    block.addEventListener("focus", () => this.source().tell(block.line));
    if (this.source().editable) {
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
    edge.className = "tl-block-edge tl-block-edge-" + side;
    edge.tabIndex = 0;
    edge.setAttribute("role", "slider");
    edge.dataset.tlEdge = side;
    edge.dataset.tlEdgeOf = block.dataset.tlBlock;
    let from = null;
    bindHorizontalDrag(edge, {
      start: () => { from = this.current(block); },
      move: (dx) => this.cropTo(block, side, this.edgeMs(from, side) + this.pixelsToMs(dx)),
      end: () => this.commit(block),
    });
    bindSliderKeys(edge, () => this.edgeMs(this.current(block), side),
      () => this.edgeRange(block, side), (ms) => {
        this.cropTo(block, side, ms);
        this.commitSoon(block);
      });
    edge.addEventListener("focus", () => this.source().tell(block.line));
    return edge;
  }

  wireMoves(block) {
    let from = null;
    bindHorizontalDrag(block, {
      start: () => { from = this.current(block); },
      move: (dx) => this.moveTo(block, from.atMs + this.pixelsToMs(dx)),
      end: () => this.commit(block),
    });
    bindSliderKeys(block, () => this.current(block).atMs, () => this.startRange(block), (ms) => {
      this.moveTo(block, ms);
      this.commitSoon(block);
    });
  }

  pixelsToMs(dx) {
    return Math.round(dx * this.editor.track.msPerPixel());
  }

  current(block) {
    return this.drafts.get(block.line.id) || placeOf(block.line);
  }

  /** An edge's time on the video. */
  edgeMs(place, side) {
    return side === "start" ? place.atMs : place.atMs + place.cropEndMs - place.cropStartMs;
  }

  startRange(block) {
    return [0, this.source().latestStartMs(this.current(block))];
  }

  /** How far an edge may go: inside the clip and the video, keeping the shortest crop. */
  edgeRange(block, side) {
    const place = this.current(block);
    const shortest = this.source().shortestMs;
    const clipMs = block.line.clipMs || place.cropEndMs;
    if (side === "start") {
      const earliest = Math.max(0, place.atMs - place.cropStartMs);
      return [earliest, Math.max(earliest, this.edgeMs(place, "end") - shortest)];
    }
    const latest = Math.min(this.editor.page.videoMs, place.atMs + clipMs - place.cropStartMs);
    return [Math.min(place.atMs + shortest, latest), latest];
  }

  moveTo(block, atMs) {
    const place = Object.assign({}, this.current(block));
    const range = this.startRange(block);
    place.atMs = clamp(Math.round(atMs), range[0], range[1]);
    this.draft(block, place);
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
    this.draft(block, place);
  }

  draft(block, place) {
    this.drafts.set(block.line.id, place);
    this.source().change(block.line, place);
    this.place(block, place);
  }

  commitSoon(block) {
    const id = block.line.id;
    clearTimeout(this.timers.get(id));
    const delay = this.source().commitDelayMs;
    if (!delay) this.commit(block);
    else this.timers.set(id, setTimeout(() => this.commit(block), delay));
  }

  /** The move ended: the source keeps it, and the line is drawn from the source again. */
  commit(block) {
    const id = block.line.id;
    const place = this.drafts.get(id);
    if (!place) return;
    // The source lets go of the draft before it draws the lines again.
    this.source().commit(block.line, place, () => {
      if (this.drafts.get(id) === place) this.drafts.delete(id);
    });
  }

  place(block, place) {
    const line = block.line;
    const videoMs = this.editor.page.videoMs;
    const lengthMs = place.cropEndMs - place.cropStartMs;
    block.style.left = percentOf(place.atMs, videoMs);
    block.style.width = percentOf(Math.max(0, Math.min(lengthMs, videoMs - place.atMs)), videoMs);
    block.firstChild.textContent = line.label;
    block.title = where(place) + (line.problem ? ". " + line.problem : "");
    const range = this.startRange(block);
    setSliderValues(block, place.atMs, range[0], range[1], where(place));
    block.setAttribute("aria-label", line.name + ": " + line.label);
    if (!block.edges) return;
    block.edges.start.style.left = percentOf(place.atMs, videoMs);
    block.edges.end.style.left = percentOf(Math.min(place.atMs + lengthMs, videoMs), videoMs);
    ["start", "end"].forEach((side) => {
      const edge = block.edges[side];
      const edgeRange = this.edgeRange(block, side);
      const clipAt = side === "start" ? place.cropStartMs : place.cropEndMs;
      setSliderValues(edge, this.edgeMs(place, side), edgeRange[0], edgeRange[1],
        seconds(clipAt) + " into " + line.clipLabel + ", heard at " +
          timecode(this.edgeMs(place, side)));
      edge.setAttribute("aria-label", "Where " + lowerFirst(line.name) + " " + side + "s in its clip");
    });
  }

  focus(id) {
    const block = this.blocks.get(id);
    if (block) block.focus();
  }

  /** The line whose block or edge has the keyboard, if any. */
  focusedLine() {
    const focused = document.activeElement;
    const data = focused && focused.dataset;
    const id = data ? data.tlBlock || data.tlEdgeOf : "";
    const block = id && this.blocks.get(id);
    return block ? block.line : null;
  }

  destroy() {
    this.timers.forEach(function (timer) { clearTimeout(timer); });
  }
}
