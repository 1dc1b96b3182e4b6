// The video page's chosen clip (FormSource) as a waveform, with the crop as one region of
// wavesurfer.js's regions plugin. Dragging the region or its edges crops the clip; the edges
// are keyboard sliders too.
// wavesurfer.js draws in a shadow root, so the handles are styled through ::part().

import { seconds } from "../rules.js";
import { bindSliderKeys, setSliderValues } from "./sliders.js";
import { WAVE_STYLE, peaksOf, waveSurfer } from "./waves.js";

const CROP_COLOR = "rgba(40, 85, 216, 0.16)";

export class ClipWave {
  constructor(source) {
    this.source = source;
    this.panel = source.root.querySelector("[data-tl-clip-editor]");
    this.container = source.root.querySelector("[data-tl-clip-wave]");
    this.playButton = source.root.querySelector("[data-tl-play-crop]");
    this.wave = null;
    this.regions = null;
    this.region = null;
    this.handles = null;
    this.playButton.addEventListener("click", this.togglePlayCrop.bind(this));
  }

  create(clip) {
    const WaveSurfer = waveSurfer();
    this.regions = WaveSurfer.Regions.create();
    this.wave = WaveSurfer.create(Object.assign({}, WAVE_STYLE, {
      container: this.container,
      height: 96,
      url: clip.url,
      peaks: peaksOf(clip.waveform),
      duration: clip.durationMs / 1000,
      plugins: [this.regions],
    }));
    const source = this.source;
    this.wave.on("ready", this.addCropRegion.bind(this));
    this.wave.on("play", this.showPlaying.bind(this, true));
    this.wave.on("pause", this.showPlaying.bind(this, false));
    this.regions.on("region-update", function (region) {
      source.cropClip(Math.round(region.start * 1000), Math.round(region.end * 1000), "region");
    });
    this.regions.on("region-updated", function () { source.settle(); });
  }

  show(clip) {
    this.panel.hidden = !clip;
    if (!clip) {
      if (this.wave) this.wave.pause();
      return;
    }
    if (!this.wave) this.create(clip);
    else this.wave.load(clip.url, peaksOf(clip.waveform), clip.durationMs / 1000);
  }

  // A fresh region per clip: its length limits depend on the clip and the video.
  addCropRegion() {
    const state = this.source.state;
    const limits = this.source.page.limits;
    this.regions.clearRegions();
    this.region = this.regions.addRegion({
      id: "crop",
      start: (state.startMs || 0) / 1000,
      end: (state.endMs || 0) / 1000,
      color: CROP_COLOR,
      drag: true,
      resize: true,
      minLength: limits.min_crop_ms / 1000,
      maxLength: this.source.page.videoMs / 1000,
    });
    this.decorateHandles();
    this.render(state);
  }

  // The plugin's handles are plain divs in wavesurfer's shadow DOM: make them keyboard sliders.
  decorateHandles() {
    const source = this.source;
    const element = this.region.element;
    const start = element.querySelector("[part~='region-handle-left']");
    const end = element.querySelector("[part~='region-handle-right']");
    [[start, "Crop start (in the audio clip)"], [end, "Crop end (in the audio clip)"]].forEach(
      function (pair) {
        pair[0].setAttribute("tabindex", "0");
        pair[0].setAttribute("role", "slider");
        pair[0].setAttribute("aria-label", pair[1]);
        pair[0].addEventListener("pointerdown", function () { pair[0].focus(); });
      }
    );
    bindSliderKeys(start, function () { return source.state.startMs; },
      source.cropStartRange.bind(source),
      function (ms) { source.cropClip(ms, source.state.endMs, "key"); source.settle(); });
    bindSliderKeys(end, function () { return source.state.endMs; },
      source.cropEndRange.bind(source),
      function (ms) { source.cropClip(source.state.startMs, ms, "key"); source.settle(); });
    this.handles = { start: start, end: end };
  }

  render(state, from) {
    if (!this.region || state.startMs === null || state.endMs === null) return;
    if (from !== "region") {
      this.region.setOptions({ start: state.startMs / 1000, end: state.endMs / 1000 });
    }
    const startRange = this.source.cropStartRange();
    const endRange = this.source.cropEndRange();
    setSliderValues(this.handles.start, state.startMs, startRange[0], startRange[1],
      seconds(state.startMs) + " into the clip");
    setSliderValues(this.handles.end, state.endMs, endRange[0], endRange[1],
      seconds(state.endMs) + " into the clip; the part lasts " +
        seconds(state.endMs - state.startMs));
  }

  focusHandle(which) {
    if (this.handles) this.handles[which].focus();
  }

  togglePlayCrop() {
    if (!this.region) return;
    if (this.wave.isPlaying()) this.wave.pause();
    else this.region.play(true);
  }

  pause() {
    if (this.wave) this.wave.pause();
  }

  showPlaying(playing) {
    this.playButton.textContent = playing ? "Stop" : "Play this part";
  }

  destroy() {
    if (this.wave) this.wave.destroy();
  }
}
