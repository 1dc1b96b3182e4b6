// The two lanes of the video track that depend on the zoom: the ruler's ticks and labels, and
// the thumbnail strip's tiles. Both are drawn again whenever the canvas changes width.

import { percentOf, tickLabel } from "./time.js";

const MIN_LABEL_SPACING_PX = 64;
const TICK_STEPS_S = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60];

/** Labelled ticks at least 64 px apart, with 2 or 5 unlabelled ones between them. */
export function drawRuler(ruler, canvasWidth, videoMs) {
  const pxPerSecond = canvasWidth / Math.max(0.001, videoMs / 1000);
  const major = TICK_STEPS_S.find(function (step) {
    return step * pxPerSecond >= MIN_LABEL_SPACING_PX;
  }) || TICK_STEPS_S[TICK_STEPS_S.length - 1];
  const subdivisions = (major * pxPerSecond) / 5 >= 8 ? 5 : 2;
  const minorMs = (major * 1000) / subdivisions;
  const ticks = document.createDocumentFragment();
  for (let index = 0; index * minorMs <= videoMs; index += 1) {
    const atMs = index * minorMs;
    const tick = document.createElement("span");
    const isMajor = index % subdivisions === 0;
    tick.className = isMajor ? "tl-tick tl-tick-major" : "tl-tick";
    tick.style.left = percentOf(atMs, videoMs);
    if (isMajor) {
      const label = document.createElement("span");
      label.className = "tl-tick-label";
      label.textContent = tickLabel(atMs, major < 1);
      tick.appendChild(label);
    }
    ticks.appendChild(tick);
  }
  ruler.replaceChildren(ticks);
}

// Each slice of the video shows its tile, repeated at its own aspect ratio when zoomed in
// (stretching one thumbnail over a wide slice would distort the faces people look for).
export function drawStrip(lane, strip, canvasWidth) {
  if (!strip.url || !strip.count || !strip.tile_width || !strip.tile_height) {
    lane.classList.add("tl-lane-empty");
    return;
  }
  lane.style.setProperty("--tl-strip-url", "url(\"" + strip.url + "\")");
  const height = lane.clientHeight;
  const tileWidth = (strip.tile_width * height) / strip.tile_height;
  const cellWidth = canvasWidth / strip.count;
  const cells = document.createDocumentFragment();
  for (let index = 0; index < strip.count; index += 1) {
    const cell = document.createElement("div");
    cell.className = "tl-cell";
    cell.style.left = (index / strip.count) * 100 + "%";
    cell.style.width = 100 / strip.count + "%";
    for (let copy = 0; copy * tileWidth < cellWidth; copy += 1) {
      const tile = document.createElement("div");
      tile.className = "tl-tile";
      tile.style.left = copy * tileWidth + "px";
      tile.style.width = tileWidth + "px";
      tile.style.backgroundSize = strip.count * tileWidth + "px " + height + "px";
      tile.style.backgroundPosition = -index * tileWidth + "px 0";
      cell.appendChild(tile);
    }
    cells.appendChild(cell);
  }
  lane.replaceChildren(cells);
}
