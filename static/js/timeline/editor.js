// The editor, on the video page (projects/includes/timeline.html) and on a dub's page
// (projects/templates/projects/dub_detail.html) alike: the video with its transport, the track
// (ruler, pictures, zoom, playhead: VideoTrack), the original sound's lane where the page has
// one, a row per person with when they are on screen, the lines as blocks on their person's row
// (LineBlocks) and "Listen to the mix" (MixPlayer). Where the lines come from is the page's:
// a form's fields on the video page (FormSource: one line, over the chosen face, the rules
// checked here) or the board the server renders on a dub's page (BoardSource: every line, each
// change posted, the rules checked there). The markup chooses: [data-tl-board] names a board.

import { BoardSource } from "./board-source.js";
import { FormSource } from "./form-source.js";
import { LineBlocks } from "./line-blocks.js";
import { MixPlayer } from "./mix-player.js";
import { readPage } from "./page-data.js";
import { clamp, timecode } from "./time.js";
import { VideoTrack } from "./video-track.js";
import { drawOriginalWave, waveSurfer } from "./waves.js";

export class Editor {
  constructor(root) {
    this.root = root;
    this.page = readPage(root);
    this.video = root.querySelector("[data-tl-video]");
    this.video.removeAttribute("controls"); // the transport plays it
    this.listeners = [];
    this.animation = 0;
    // The visual parts need the script to work: they are shown by it only.
    root.querySelectorAll("[data-tl-js]").forEach(function (part) { part.hidden = false; });

    this.track = new VideoTrack(this);
    this.blocks = new LineBlocks(this);
    this.mix = new MixPlayer(this);
    const originalLane = root.querySelector("[data-tl-original-wave]");
    this.originalWave = originalLane && waveSurfer() ? drawOriginalWave(this, originalLane) : null;
    this.wirePlayer();
    this.track.zoomTo(1, 0);
    this.source = root.hasAttribute("data-tl-board") ? new BoardSource(this) : new FormSource(this);
    this.source.start();
  }

  /** The source's lines changed (or one of them did): draw them again, mix what is there now. */
  linesChanged() {
    this.blocks.draw(this.source.lines());
    this.mix.refresh();
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

  wirePlayer() {
    const video = this.video;
    const button = this.root.querySelector("[data-tl-play]");
    const label = this.root.querySelector("[data-tl-play-text]");
    button.addEventListener("click", function () {
      if (video.paused) video.play().catch(function () {});
      else video.pause();
    });
    // A click on the picture plays or pauses, as people expect from a player.
    video.addEventListener("click", function () { button.click(); });
    const frame = () => {
      this.showTime();
      if (!video.paused) this.animation = requestAnimationFrame(frame);
    };
    video.addEventListener("play", () => {
      label.textContent = "Pause";
      button.setAttribute("aria-label", "Pause");
      button.classList.add("tl-playing");
      this.track.following = true;
      this.animation = requestAnimationFrame(frame);
    });
    video.addEventListener("pause", () => {
      label.textContent = "Play";
      button.setAttribute("aria-label", "Play");
      button.classList.remove("tl-playing");
      this.track.following = false;
      cancelAnimationFrame(this.animation);
      this.showTime();
    });
    video.addEventListener("seeked", this.showTime.bind(this));
    video.addEventListener("loadedmetadata", this.showTime.bind(this));
  }

  /** What "Listen to the mix" plays over the video: each line's crop at its time. */
  mixSounds() {
    return this.source ? this.source.mixSounds() : [];
  }

  mixOriginalVolume() {
    return this.source.originalVolume();
  }

  beforeMix() {
    if (this.source.beforeMix) this.source.beforeMix();
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
    this.mix.destroy();
    this.blocks.destroy();
    this.source.destroy();
    if (this.originalWave) this.originalWave.destroy();
    this.track.destroy();
  }
}
