// The video track: ruler, thumbnail strip and playhead, with seeking and zoom, under which the
// person rows lie. Plain DOM positioned in % of the video's length inside a canvas whose width
// is zoom × the visible width, so zooming only changes one width; the ruler's ticks and the
// strip's tiles are then drawn again for the new scale (track-lanes.js).

import { bindHorizontalDrag, bindSliderKeys, setSliderValues } from "./sliders.js";
import { clamp, percentOf, timecode } from "./time.js";
import { drawRuler, drawStrip } from "./track-lanes.js";

const MAX_PX_PER_SECOND = 250;
const ZOOM_STEP = 1.5;

export class VideoTrack {
  constructor(editor) {
    this.editor = editor;
    const root = editor.root;
    this.scroller = root.querySelector("[data-tl-scroller]");
    this.canvas = root.querySelector("[data-tl-canvas]");
    this.ruler = root.querySelector("[data-tl-ruler]");
    this.strip = root.querySelector("[data-tl-strip]");
    this.playhead = root.querySelector("[data-tl-playhead]");
    this.zoom = 1;
    this.following = false;
    this.wireSeeking();
    this.wireZoom();
    this.resizeObserver = new ResizeObserver(this.layout.bind(this));
    this.resizeObserver.observe(this.scroller);
  }

  videoMs() {
    return this.editor.page.videoMs;
  }

  msPerPixel() {
    return this.videoMs() / Math.max(1, this.canvas.clientWidth);
  }

  msAtClientX(clientX) {
    const box = this.canvas.getBoundingClientRect();
    return clamp((clientX - box.left) * this.msPerPixel(), 0, this.videoMs());
  }

  layout() {
    drawRuler(this.ruler, this.canvas.clientWidth, this.videoMs());
    drawStrip(this.strip, this.editor.page.strip, this.canvas.clientWidth);
  }

  drawPlayhead(timeMs) {
    this.playhead.style.left = percentOf(timeMs, this.videoMs());
    setSliderValues(this.ruler, timeMs, 0, this.videoMs(), timecode(timeMs));
    if (this.following) this.keepInView(timeMs);
  }

  /** While playing zoomed in, scroll so the playhead stays on screen. */
  keepInView(timeMs) {
    const x = timeMs / this.msPerPixel();
    const left = this.scroller.scrollLeft;
    const width = this.scroller.clientWidth;
    if (x < left || x > left + width - 24) this.scroller.scrollLeft = x - width * 0.2;
  }

  wireSeeking() {
    const editor = this.editor;
    const track = this;
    [this.ruler, this.strip].forEach(function (element) {
      bindHorizontalDrag(element, {
        start: function (event) { editor.seek(track.msAtClientX(event.clientX)); },
        move: function (dx, event) { editor.seek(track.msAtClientX(event.clientX)); },
      });
    });
    bindSliderKeys(this.ruler, editor.currentMs.bind(editor),
      function () { return [0, track.videoMs()]; }, editor.seek.bind(editor));
  }

  wireZoom() {
    const track = this;
    this.editor.root.querySelectorAll("[data-tl-zoom]").forEach(function (button) {
      button.addEventListener("click", function () {
        const how = button.dataset.tlZoom;
        const target = how === "fit" ? 1 : track.zoom * (how === "in" ? ZOOM_STEP : 1 / ZOOM_STEP);
        track.zoomTo(target, track.scroller.clientWidth / 2);
      });
    });
    // Ctrl + wheel (and a trackpad pinch, which browsers report the same way) zooms at the pointer.
    this.scroller.addEventListener("wheel", function (event) {
      if (!event.ctrlKey) return;
      event.preventDefault();
      const factor = Math.exp(-event.deltaY / 300);
      const box = track.scroller.getBoundingClientRect();
      track.zoomTo(track.zoom * factor, event.clientX - box.left);
    }, { passive: false });
  }

  maxZoom() {
    const visibleSeconds = this.videoMs() / 1000;
    return Math.max(1, (MAX_PX_PER_SECOND * visibleSeconds) / Math.max(1, this.scroller.clientWidth));
  }

  /** Zoom keeping the time under `anchorX` (px from the scroller's left edge) where it is. */
  zoomTo(zoom, anchorX) {
    const next = clamp(zoom, 1, this.maxZoom());
    const anchorMs = (this.scroller.scrollLeft + anchorX) * this.msPerPixel();
    this.zoom = next;
    this.canvas.style.width = next * 100 + "%";
    this.scroller.scrollLeft = anchorMs / this.msPerPixel() - anchorX;
    this.layout();
    this.editor.root.querySelector("[data-tl-zoom='in']").disabled = next >= this.maxZoom();
    this.editor.root.querySelector("[data-tl-zoom='out']").disabled = next <= 1;
    this.editor.root.querySelector("[data-tl-zoom='fit']").disabled = next <= 1;
  }

  destroy() {
    this.resizeObserver.disconnect();
  }
}
