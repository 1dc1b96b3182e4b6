// Waveforms drawn by wavesurfer.js v7 (static/vendor/wavesurfer/, loaded as classic scripts
// before the modules: it defines window.WaveSurfer and window.WaveSurfer.Regions). This is the
// one module that reads that global. It also draws the video's own sound under the strip.

import { percentOf } from "./time.js";

export const WAVE_STYLE = {
  waveColor: "#9aa8c9",
  progressColor: "#5b78c9",
  cursorColor: "#1d2330",
  cursorWidth: 1,
  barWidth: 2,
  barGap: 1,
  barRadius: 2,
  normalize: true,
};

/** wavesurfer.js with its regions plugin, or null when the page could not load them. */
export function waveSurfer() {
  const WaveSurfer = window.WaveSurfer;
  return WaveSurfer && WaveSurfer.Regions ? WaveSurfer : null;
}

export function peaksOf(waveform) {
  return waveform && Array.isArray(waveform.peaks) && waveform.peaks.length
    ? waveform.peaks
    : [[0, 0]]; // a silent or unmeasured clip still gets a flat line and working handles
}

// The video's own sound, drawn under the strip so people see where the original speech is.
export function drawOriginalWave(editor, container) {
  const waveform = editor.page.videoPeaks;
  if (!waveform.peaks || !waveform.peaks.length || !waveform.duration) {
    container.closest(".tl-lane").classList.add("tl-lane-empty");
    container.textContent = "No sound in the video";
    return null;
  }
  // The sound track may be a little shorter than the picture: draw it to its own length.
  container.style.width = percentOf(
    Math.min(waveform.duration * 1000, editor.page.videoMs), editor.page.videoMs);
  return waveSurfer().create(Object.assign({}, WAVE_STYLE, {
    container: container,
    height: container.clientHeight || 36,
    peaks: waveform.peaks,
    duration: waveform.duration,
    interact: false,
    cursorWidth: 0,
    progressColor: WAVE_STYLE.waveColor,
    barWidth: 1,
    barGap: 1,
    hideScrollbar: true,
  }));
}
