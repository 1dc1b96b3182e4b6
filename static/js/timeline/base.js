// What every editor on a video shares: its markup, the video, the playhead and the listeners
// it holds outside its markup. Editor (one clip on the video page) and DubEditor (a dub's
// lines, one row per person) extend it and add their own tracks.

import { clamp, timecode } from "./time.js";

export class TimelineBase {
  constructor(root, page) {
    this.root = root;
    this.page = page;
    this.video = root.querySelector("[data-tl-video]");
    this.listeners = [];
    this.animation = 0;
    // The visual parts need the script to work: they are shown by it only.
    root.querySelectorAll("[data-tl-js]").forEach(function (part) { part.hidden = false; });
  }

  currentMs() {
    return Math.round(this.video.currentTime * 1000);
  }

  seek(ms) {
    this.video.currentTime = clamp(ms, 0, this.page.videoMs) / 1000;
    this.showTime();
  }

  showTime() {
    const now = this.currentMs();
    this.track.drawPlayhead(now);
    this.root.querySelector("[data-tl-time]").textContent =
      timecode(now) + " / " + timecode(this.page.videoMs);
  }

  /** Listen on a target outside the editor's markup; destroy() lets go of it. */
  listen(target, name, handler, options) {
    target.addEventListener(name, handler, options);
    this.listeners.push([target, name, handler, options]);
  }

  destroy() {
    this.listeners.forEach(function (entry) {
      entry[0].removeEventListener(entry[1], entry[2], entry[3]);
    });
    this.listeners = [];
    cancelAnimationFrame(this.animation);
  }
}
