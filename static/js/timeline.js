// The timeline editor: crop an audio clip, place it on the video over the chosen face, listen to
// the mix, and keep the form's fields (seconds, ms precision) in step with every drag and key.
//
// Markup: projects/templates/projects/includes/timeline.html. Rules: static/js/rules.js.
// Waveforms and the crop handles: wavesurfer.js v7 and its regions plugin (static/vendor/).
// The video track (ruler, strip, bands, clip block, playhead) is plain DOM positioned in % of the
// video's length inside a canvas whose width is zoom × the visible width, so zooming only changes
// one width. All times are whole milliseconds; only the form fields speak seconds.
(function () {
  "use strict";

  if (window.LipsyncTimeline) return; // loaded twice (include rendered twice): wire once.

  const Rules = window.LipsyncRules;
  const KEY_STEP_MS = 100;
  const KEY_BIG_STEP_MS = 1000;
  const MAX_PX_PER_SECOND = 250;
  const ZOOM_STEP = 1.5;
  const MIN_LABEL_SPACING_PX = 64;
  const TICK_STEPS_S = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60];
  const STATUS_DELAY_MS = 300; // screen readers hear the rules once a drag settles, not per pixel
  const MIX_DRIFT_S = 0.12;
  const MIX_LEAD_IN_MS = 1000;
  const LIMITER_KNEE = 0.9; // as projects/engines/local/audio.py, so the preview bends alike

  // --- small helpers ----------------------------------------------------------------------

  function clamp(value, low, high) {
    return Math.min(Math.max(value, low), high);
  }

  function readJson(root, selector) {
    const element = root.querySelector(selector);
    if (!element) return null;
    try {
      return JSON.parse(element.textContent);
    } catch (error) {
      return null;
    }
  }

  /** A field's text in seconds ("1.5", "1,5") as whole ms; null when empty or not a number. */
  function secondsTextToMs(text) {
    const cleaned = String(text || "").trim().replace(",", ".");
    if (!cleaned) return null;
    const value = Number(cleaned);
    return Number.isFinite(value) ? Math.round(value * 1000) : null;
  }

  function msToSecondsText(ms) {
    return (ms / 1000).toFixed(3);
  }

  /** A position as the server's `timecode` filter writes it: 3200 -> "0:03.2". */
  function timecode(ms) {
    const safe = Math.max(0, Math.round(ms));
    const minutes = Math.floor(safe / 60000);
    const rest = safe % 60000;
    const secs = String(Math.floor(rest / 1000)).padStart(2, "0");
    return minutes + ":" + secs + "." + Math.floor((rest % 1000) / 100);
  }

  function tickLabel(ms, withTenths) {
    const text = timecode(ms);
    return withTenths ? text : text.slice(0, -2);
  }

  function percentOf(ms, totalMs) {
    return (totalMs > 0 ? (ms / totalMs) * 100 : 0) + "%";
  }

  function formatVolume(value) {
    return Number(value).toFixed(2).replace(/0$/, "");
  }

  /** Slider semantics on any element, in seconds for assistive technology. */
  function setSliderValues(element, valueMs, minMs, maxMs, text) {
    element.setAttribute("aria-valuemin", (minMs / 1000).toFixed(3));
    element.setAttribute("aria-valuemax", (Math.max(minMs, maxMs) / 1000).toFixed(3));
    element.setAttribute("aria-valuenow", (valueMs / 1000).toFixed(3));
    element.setAttribute("aria-valuetext", text);
  }

  /** ←/→ (and ↑/↓) move by 0.1 s, with Shift by 1 s; PageUp/PageDown by 1 s; Home/End to the ends. */
  function keyDeltaMs(event) {
    const step = event.shiftKey ? KEY_BIG_STEP_MS : KEY_STEP_MS;
    switch (event.key) {
      case "ArrowLeft":
      case "ArrowDown":
        return -step;
      case "ArrowRight":
      case "ArrowUp":
        return step;
      case "PageDown":
        return -KEY_BIG_STEP_MS;
      case "PageUp":
        return KEY_BIG_STEP_MS;
      case "Home":
        return -Infinity;
      case "End":
        return Infinity;
      default:
        return null;
    }
  }

  /** Keyboard control of a slider; `range()` gives [min, max] in ms at the time of the key. */
  function bindSliderKeys(element, getValue, range, setValue) {
    element.addEventListener("keydown", function (event) {
      const delta = keyDeltaMs(event);
      if (delta === null) return;
      event.preventDefault();
      const bounds = range();
      setValue(clamp(getValue() + delta, bounds[0], bounds[1]));
    });
  }

  /** Pointer drag (mouse, pen, touch) reporting the horizontal move in px since the press. */
  function bindHorizontalDrag(element, handlers) {
    let origin = null;
    element.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      origin = event.clientX;
      element.setPointerCapture(event.pointerId);
      element.focus({ preventScroll: true });
      handlers.start(event);
      event.preventDefault();
    });
    element.addEventListener("pointermove", function (event) {
      if (origin !== null) handlers.move(event.clientX - origin, event);
    });
    function finish() {
      if (origin === null) return;
      origin = null;
      if (handlers.end) handlers.end();
    }
    element.addEventListener("pointerup", finish);
    element.addEventListener("pointercancel", finish);
  }

  // --- what the page tells us -------------------------------------------------------------

  function readClips(root) {
    const clips = new Map();
    root.querySelectorAll("[data-tl-clip]").forEach(function (node) {
      const durationMs = Number(node.dataset.durationMs);
      if (!durationMs) return; // not probed yet: nothing to draw or place
      clips.set(node.dataset.tlClip, {
        id: node.dataset.tlClip,
        label: node.dataset.label,
        url: node.dataset.url,
        durationMs: durationMs,
        waveform: readJson(node, "script") || {},
      });
    });
    return clips;
  }

  function readFaces(root) {
    const faces = new Map();
    root.querySelectorAll("[data-tl-face]").forEach(function (node) {
      faces.set(node.dataset.tlFace, {
        startMs: Number(node.dataset.startMs),
        endMs: Number(node.dataset.endMs),
      });
    });
    return faces;
  }

  function readPage(root) {
    return {
      videoMs: Number(root.dataset.durationMs) || 0,
      limits: Object.assign({}, Rules.DEFAULT_LIMITS, readJson(root, "#timeline-rules") || {}),
      videoPeaks: readJson(root, "#video-peaks") || {},
      strip: Object.assign(readJson(root, "#video-strip") || {}, {
        url: root.dataset.stripUrl || "",
        count: Number(root.dataset.stripCount) || 0,
      }),
      clips: readClips(root),
      faces: readFaces(root),
    };
  }

  function findFields(root) {
    function inside(name) {
      return root.querySelector("[data-tl-field='" + name + "'] input, " +
        "[data-tl-field='" + name + "'] select");
    }
    return {
      face: root.querySelector(".tl-fields input[type=hidden][name$='face']"),
      audio: inside("audio"),
      sound_start: inside("sound_start"),
      sound_end: inside("sound_end"),
      sound_insert: inside("sound_insert"),
      sound_volume: inside("sound_volume"),
      original_audio_volume: inside("original_audio_volume"),
    };
  }

  // --- the video track: ruler, strip, bands, clip block, playhead, zoom -------------------

  function VideoTrack(editor) {
    this.editor = editor;
    const root = editor.root;
    this.scroller = root.querySelector("[data-tl-scroller]");
    this.canvas = root.querySelector("[data-tl-canvas]");
    this.ruler = root.querySelector("[data-tl-ruler]");
    this.strip = root.querySelector("[data-tl-strip]");
    this.playhead = root.querySelector("[data-tl-playhead]");
    this.faceBand = root.querySelector("[data-tl-face-band]");
    this.faceHover = root.querySelector("[data-tl-face-hover]");
    this.block = root.querySelector("[data-tl-clip-block]");
    this.blockLabel = root.querySelector("[data-tl-clip-label]");
    this.zoom = 1;
    this.following = false;
    this.wireSeeking();
    this.wireClipBlock();
    this.wireZoom();
    this.resizeObserver = new ResizeObserver(this.layout.bind(this));
    this.resizeObserver.observe(this.scroller);
  }

  VideoTrack.prototype.videoMs = function () {
    return this.editor.page.videoMs;
  };

  VideoTrack.prototype.msPerPixel = function () {
    return this.videoMs() / Math.max(1, this.canvas.clientWidth);
  };

  VideoTrack.prototype.msAtClientX = function (clientX) {
    const box = this.canvas.getBoundingClientRect();
    return clamp((clientX - box.left) * this.msPerPixel(), 0, this.videoMs());
  };

  VideoTrack.prototype.layout = function () {
    this.renderRuler();
    this.renderStrip();
  };

  VideoTrack.prototype.renderRuler = function () {
    const videoMs = this.videoMs();
    const pxPerSecond = this.canvas.clientWidth / Math.max(0.001, videoMs / 1000);
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
    this.ruler.replaceChildren(ticks);
  };

  // Each slice of the video shows its tile, repeated at its own aspect ratio when zoomed in
  // (stretching one thumbnail over a wide slice would distort the faces people look for).
  VideoTrack.prototype.renderStrip = function () {
    const strip = this.editor.page.strip;
    if (!strip.url || !strip.count || !strip.tile_width || !strip.tile_height) {
      this.strip.classList.add("tl-lane-empty");
      return;
    }
    this.strip.style.setProperty("--tl-strip-url", "url(\"" + strip.url + "\")");
    const height = this.strip.clientHeight;
    const tileWidth = (strip.tile_width * height) / strip.tile_height;
    const cellWidth = this.canvas.clientWidth / strip.count;
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
    this.strip.replaceChildren(cells);
  };

  VideoTrack.prototype.drawBand = function (band, window) {
    band.hidden = !window;
    if (!window) return;
    band.style.left = percentOf(window.startMs, this.videoMs());
    band.style.width = percentOf(window.endMs - window.startMs, this.videoMs());
  };

  VideoTrack.prototype.drawFace = function (face) {
    this.drawBand(this.faceBand, face);
    if (face) {
      this.faceBand.title = "Face on screen from " + Rules.seconds(face.startMs) + " to " +
        Rules.seconds(face.endMs);
    }
  };

  VideoTrack.prototype.drawFaceHover = function (face) {
    this.drawBand(this.faceHover, face);
  };

  VideoTrack.prototype.drawClip = function (state, clip) {
    const ready = clip && state.insertMs !== null && state.startMs !== null &&
      state.endMs !== null;
    this.block.hidden = !ready;
    if (!ready) return;
    const lengthMs = Math.max(0, state.endMs - state.startMs);
    const videoMs = this.videoMs();
    this.block.style.left = percentOf(state.insertMs, videoMs);
    this.block.style.width = percentOf(Math.min(lengthMs, videoMs), videoMs);
    this.blockLabel.textContent = Rules.seconds(lengthMs) + " · " + clip.label;
    setSliderValues(this.block, state.insertMs, 0, Math.max(0, videoMs - lengthMs),
      "From " + Rules.seconds(state.insertMs) + " to " +
      Rules.seconds(state.insertMs + lengthMs) + " on the video");
  };

  VideoTrack.prototype.drawPlayhead = function (timeMs) {
    this.playhead.style.left = percentOf(timeMs, this.videoMs());
    setSliderValues(this.ruler, timeMs, 0, this.videoMs(), timecode(timeMs));
    if (this.following) this.keepInView(timeMs);
  };

  /** While playing zoomed in, scroll so the playhead stays on screen. */
  VideoTrack.prototype.keepInView = function (timeMs) {
    const x = timeMs / this.msPerPixel();
    const left = this.scroller.scrollLeft;
    const width = this.scroller.clientWidth;
    if (x < left || x > left + width - 24) this.scroller.scrollLeft = x - width * 0.2;
  };

  VideoTrack.prototype.wireSeeking = function () {
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
  };

  VideoTrack.prototype.wireClipBlock = function () {
    const editor = this.editor;
    const track = this;
    let startInsert = 0;
    bindHorizontalDrag(this.block, {
      start: function () { startInsert = editor.state.insertMs; },
      move: function (dx) {
        editor.placeClip(startInsert + Math.round(dx * track.msPerPixel()), "drag");
      },
      end: function () { editor.settle(); },
    });
    bindSliderKeys(this.block, function () { return editor.state.insertMs; },
      function () { return [0, editor.latestInsertMs()]; },
      function (ms) { editor.placeClip(ms, "key"); editor.settle(); });
  };

  VideoTrack.prototype.wireZoom = function () {
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
  };

  VideoTrack.prototype.maxZoom = function () {
    const visibleSeconds = this.videoMs() / 1000;
    return Math.max(1, (MAX_PX_PER_SECOND * visibleSeconds) / Math.max(1, this.scroller.clientWidth));
  };

  /** Zoom keeping the time under `anchorX` (px from the scroller's left edge) where it is. */
  VideoTrack.prototype.zoomTo = function (zoom, anchorX) {
    const next = clamp(zoom, 1, this.maxZoom());
    const anchorMs = (this.scroller.scrollLeft + anchorX) * this.msPerPixel();
    this.zoom = next;
    this.canvas.style.width = next * 100 + "%";
    this.scroller.scrollLeft = anchorMs / this.msPerPixel() - anchorX;
    this.layout();
    this.editor.root.querySelector("[data-tl-zoom='in']").disabled = next >= this.maxZoom();
    this.editor.root.querySelector("[data-tl-zoom='out']").disabled = next <= 1;
    this.editor.root.querySelector("[data-tl-zoom='fit']").disabled = next <= 1;
  };

  VideoTrack.prototype.destroy = function () {
    this.resizeObserver.disconnect();
  };

  // --- the clip's waveform and crop handles (wavesurfer.js + regions) ----------------------

  const WAVE_STYLE = {
    waveColor: "#9aa8c9",
    progressColor: "#5b78c9",
    cursorColor: "#1d2330",
    cursorWidth: 1,
    barWidth: 2,
    barGap: 1,
    barRadius: 2,
    normalize: true,
  };
  const CROP_COLOR = "rgba(40, 85, 216, 0.16)";

  function peaksOf(waveform) {
    return waveform && Array.isArray(waveform.peaks) && waveform.peaks.length
      ? waveform.peaks
      : [[0, 0]]; // a silent or unmeasured clip still gets a flat line and working handles
  }

  function ClipWave(editor) {
    this.editor = editor;
    this.panel = editor.root.querySelector("[data-tl-clip-editor]");
    this.container = editor.root.querySelector("[data-tl-clip-wave]");
    this.playButton = editor.root.querySelector("[data-tl-play-crop]");
    this.wave = null;
    this.regions = null;
    this.region = null;
    this.handles = null;
    this.playButton.addEventListener("click", this.togglePlayCrop.bind(this));
  }

  ClipWave.prototype.create = function (clip) {
    this.regions = window.WaveSurfer.Regions.create();
    this.wave = window.WaveSurfer.create(Object.assign({}, WAVE_STYLE, {
      container: this.container,
      height: 96,
      url: clip.url,
      peaks: peaksOf(clip.waveform),
      duration: clip.durationMs / 1000,
      plugins: [this.regions],
    }));
    const editor = this.editor;
    this.wave.on("ready", this.addCropRegion.bind(this));
    this.wave.on("play", this.showPlaying.bind(this, true));
    this.wave.on("pause", this.showPlaying.bind(this, false));
    this.regions.on("region-update", function (region) {
      editor.cropClip(Math.round(region.start * 1000), Math.round(region.end * 1000), "region");
    });
    this.regions.on("region-updated", function () { editor.settle(); });
  };

  ClipWave.prototype.show = function (clip) {
    this.panel.hidden = !clip;
    if (!clip) {
      if (this.wave) this.wave.pause();
      return;
    }
    if (!this.wave) this.create(clip);
    else this.wave.load(clip.url, peaksOf(clip.waveform), clip.durationMs / 1000);
  };

  // A fresh region per clip: its length limits depend on the clip and the video.
  ClipWave.prototype.addCropRegion = function () {
    const state = this.editor.state;
    const limits = this.editor.page.limits;
    this.regions.clearRegions();
    this.region = this.regions.addRegion({
      id: "crop",
      start: (state.startMs || 0) / 1000,
      end: (state.endMs || 0) / 1000,
      color: CROP_COLOR,
      drag: true,
      resize: true,
      minLength: limits.min_crop_ms / 1000,
      maxLength: this.editor.page.videoMs / 1000,
    });
    this.decorateHandles();
    this.render(state);
  };

  // The plugin's handles are plain divs in wavesurfer's shadow DOM: make them keyboard sliders.
  ClipWave.prototype.decorateHandles = function () {
    const editor = this.editor;
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
    bindSliderKeys(start, function () { return editor.state.startMs; },
      editor.cropStartRange.bind(editor),
      function (ms) { editor.cropClip(ms, editor.state.endMs, "key"); editor.settle(); });
    bindSliderKeys(end, function () { return editor.state.endMs; },
      editor.cropEndRange.bind(editor),
      function (ms) { editor.cropClip(editor.state.startMs, ms, "key"); editor.settle(); });
    this.handles = { start: start, end: end };
  };

  ClipWave.prototype.render = function (state, source) {
    if (!this.region || state.startMs === null || state.endMs === null) return;
    if (source !== "region") {
      this.region.setOptions({ start: state.startMs / 1000, end: state.endMs / 1000 });
    }
    const startRange = this.editor.cropStartRange();
    const endRange = this.editor.cropEndRange();
    setSliderValues(this.handles.start, state.startMs, startRange[0], startRange[1],
      Rules.seconds(state.startMs) + " into the clip");
    setSliderValues(this.handles.end, state.endMs, endRange[0], endRange[1],
      Rules.seconds(state.endMs) + " into the clip; the part lasts " +
        Rules.seconds(state.endMs - state.startMs));
  };

  ClipWave.prototype.focusHandle = function (which) {
    if (this.handles) this.handles[which].focus();
  };

  ClipWave.prototype.togglePlayCrop = function () {
    if (!this.region) return;
    if (this.wave.isPlaying()) this.wave.pause();
    else this.region.play(true);
  };

  ClipWave.prototype.pause = function () {
    if (this.wave) this.wave.pause();
  };

  ClipWave.prototype.showPlaying = function (playing) {
    this.playButton.textContent = playing ? "Stop" : "Play this part";
  };

  ClipWave.prototype.destroy = function () {
    if (this.wave) this.wave.destroy();
  };

  // The video's own sound, drawn under the strip so people see where the original speech is.
  function drawOriginalWave(editor) {
    const container = editor.root.querySelector("[data-tl-original-wave]");
    const waveform = editor.page.videoPeaks;
    if (!waveform.peaks || !waveform.peaks.length || !waveform.duration) {
      container.closest(".tl-lane").classList.add("tl-lane-empty");
      container.textContent = "No sound in the video";
      return null;
    }
    // The sound track may be a little shorter than the picture: draw it to its own length.
    container.style.width = percentOf(
      Math.min(waveform.duration * 1000, editor.page.videoMs), editor.page.videoMs);
    return window.WaveSurfer.create(Object.assign({}, WAVE_STYLE, {
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

  // --- listen to the mix (Web Audio) ------------------------------------------------------

  // The server mixes the two sides and bends the sum with a soft knee (engines/local/audio.py
  // soft_limit). A WaveShaper with the same curve does it here. Its input is scaled down by the
  // largest possible sum so the curve covers every level the two volumes can reach.
  function softLimitCurve(maxLevel) {
    const points = 8193;
    const curve = new Float32Array(points);
    const headroom = 1 - LIMITER_KNEE;
    for (let index = 0; index < points; index += 1) {
      const level = ((index / (points - 1)) * 2 - 1) * maxLevel;
      const magnitude = Math.abs(level);
      curve[index] = magnitude <= LIMITER_KNEE
        ? level
        : Math.sign(level) * (LIMITER_KNEE + headroom * Math.tanh((magnitude - LIMITER_KNEE) / headroom));
    }
    return curve;
  }

  function MixPlayer(editor) {
    this.editor = editor;
    this.video = editor.video;
    this.button = editor.root.querySelector("[data-tl-listen]");
    this.note = editor.root.querySelector("[data-tl-mix-note]");
    this.context = null;
    this.buffers = new Map();
    this.buffer = null;
    this.source = null;
    this.scheduled = null; // {when, intoClipS, rate, insertS} of the clip now playing or due
    this.mixing = false;
    this.starting = false; // the clip is being fetched and decoded
    this.button.addEventListener("click", this.toggle.bind(this));
    this.wireVideo();
  }

  MixPlayer.prototype.ensureGraph = function () {
    if (this.context) return;
    const context = new AudioContext();
    const maxLevel = 2 * this.editor.page.limits.volume_max;
    this.originalGain = new GainNode(context);
    this.clipGain = new GainNode(context);
    const scaleDown = new GainNode(context, { gain: 1 / maxLevel });
    const limiter = new WaveShaperNode(context, { curve: softLimitCurve(maxLevel) });
    // From now on the video's sound only reaches the speakers through this graph.
    context.createMediaElementSource(this.video).connect(this.originalGain);
    this.originalGain.connect(scaleDown);
    this.clipGain.connect(scaleDown);
    scaleDown.connect(limiter).connect(context.destination);
    this.context = context;
  };

  MixPlayer.prototype.clipBuffer = function (clip) {
    if (!this.buffers.has(clip.id)) {
      const context = this.context;
      const pending = fetch(clip.url, { credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.arrayBuffer();
        })
        .then(function (bytes) { return context.decodeAudioData(bytes); });
      pending.catch(function () {});
      this.buffers.set(clip.id, pending);
    }
    return this.buffers.get(clip.id);
  };

  MixPlayer.prototype.toggle = function () {
    if (this.mixing) {
      this.video.pause();
      this.stop(); // at once: the pause event that also stops the mix comes a moment later
    } else if (!this.starting) {
      this.start();
    }
  };

  MixPlayer.prototype.start = async function () {
    const clip = this.editor.clip();
    if (!clip) return;
    this.ensureGraph();
    this.editor.clipWave.pause();
    this.say("Preparing the clip…");
    this.starting = true;
    try {
      await this.context.resume();
      this.buffer = await this.clipBuffer(clip);
    } catch (error) {
      this.say("The clip could not be loaded for listening. This does not affect the task.");
      return;
    } finally {
      this.starting = false;
    }
    if (this.editor.clip() !== clip) return; // another clip was chosen while this one loaded
    this.say("");
    this.mixing = true;
    this.showMixing();
    this.applyVolumes();
    this.video.currentTime = this.startPositionMs() / 1000;
    this.video.play().catch(this.stop.bind(this));
  };

  /** From the playhead, unless the clip has already ended there: then just before the clip. */
  MixPlayer.prototype.startPositionMs = function () {
    const state = this.editor.state;
    const here = this.editor.currentMs();
    const clipEnd = state.insertMs + (state.endMs - state.startMs);
    if (here < clipEnd && !this.video.ended) return here;
    return Math.max(0, state.insertMs - MIX_LEAD_IN_MS);
  };

  MixPlayer.prototype.applyVolumes = function () {
    if (!this.context) return;
    const state = this.editor.state;
    // Outside a mix the video plays as it is; inside, as the engine will hear it.
    this.originalGain.gain.value = this.mixing ? state.originalVolume : 1;
    this.clipGain.gain.value = state.soundVolume;
  };

  /** Start the cropped clip so that it sounds at the insert time of the video's clock. */
  MixPlayer.prototype.schedule = function () {
    this.unschedule();
    const state = this.editor.state;
    if (!this.mixing || this.video.paused || !this.buffer) return;
    const rate = this.video.playbackRate || 1;
    const lengthS = (state.endMs - state.startMs) / 1000;
    const videoS = this.video.currentTime;
    const insertS = state.insertMs / 1000;
    const intoClipS = Math.max(0, videoS - insertS);
    if (lengthS <= 0 || intoClipS >= lengthS) return;
    const source = new AudioBufferSourceNode(this.context, { buffer: this.buffer });
    source.playbackRate.value = rate;
    source.connect(this.clipGain);
    const when = this.context.currentTime + Math.max(0, insertS - videoS) / rate;
    source.start(when, state.startMs / 1000 + intoClipS, lengthS - intoClipS);
    this.source = source;
    this.scheduled = { when: when, intoClipS: intoClipS, rate: rate, insertS: insertS };
  };

  MixPlayer.prototype.unschedule = function () {
    if (this.source) {
      this.source.stop();
      this.source.disconnect();
    }
    this.source = null;
    this.scheduled = null;
  };

  // The media element and the audio context keep separate clocks: re-align if they drift apart.
  MixPlayer.prototype.checkDrift = function () {
    const plan = this.scheduled;
    if (!plan || this.context.currentTime < plan.when) return;
    const heard = plan.intoClipS + (this.context.currentTime - plan.when) * plan.rate;
    const wanted = this.video.currentTime - plan.insertS;
    if (Math.abs(heard - wanted) > MIX_DRIFT_S) this.schedule();
  };

  MixPlayer.prototype.stop = function () {
    this.mixing = false;
    this.unschedule();
    this.applyVolumes();
    this.showMixing();
  };

  MixPlayer.prototype.wireVideo = function () {
    const mix = this;
    this.video.addEventListener("playing", function () { mix.schedule(); });
    this.video.addEventListener("seeked", function () { mix.schedule(); });
    this.video.addEventListener("ratechange", function () { mix.schedule(); });
    this.video.addEventListener("seeking", function () { mix.unschedule(); });
    this.video.addEventListener("timeupdate", function () { if (mix.mixing) mix.checkDrift(); });
    this.video.addEventListener("pause", function () { mix.stop(); });
  };

  /** The editor changed the crop, insert time or volumes while the mix plays. */
  MixPlayer.prototype.refresh = function () {
    this.applyVolumes();
    if (this.mixing) this.schedule();
  };

  MixPlayer.prototype.clipChanged = function () {
    if (this.mixing) this.video.pause();
    this.buffer = null;
    this.button.disabled = !this.editor.clip();
  };

  MixPlayer.prototype.showMixing = function () {
    this.button.setAttribute("aria-pressed", String(this.mixing));
    this.button.textContent = this.mixing ? "Stop the mix" : "Listen to the mix";
  };

  MixPlayer.prototype.say = function (text) {
    this.note.textContent = text;
  };

  MixPlayer.prototype.destroy = function () {
    this.unschedule();
    if (this.context) this.context.close();
  };

  // --- the rules panel and the submit button -----------------------------------------------

  const FORM_FIELD_OF = {
    sound_end_time: "sound_end",
    sound_insert_time: "sound_insert",
    sound_start_time: "sound_start",
  };

  function StatusPanel(editor) {
    this.editor = editor;
    this.panel = editor.root.querySelector("[data-tl-status]");
    this.panel.id = this.panel.id || "timeline-status";
    this.panel.hidden = false;
    this.timer = null;
    this.lastText = null;
    const form = editor.root.closest("form");
    this.submits = form
      ? Array.from(form.querySelectorAll("button[type=submit], input[type=submit], button:not([type])"))
        .filter(function (button) {
          // A button marked data-tl-always (say, "Save draft") stays usable whatever the rules.
          return !editor.root.contains(button) && !button.hasAttribute("data-tl-always");
        })
      : [];
    const panelId = this.panel.id;
    this.submits.forEach(function (button) {
      const described = button.getAttribute("aria-describedby") || "";
      if (!described.split(" ").includes(panelId)) {
        button.setAttribute("aria-describedby", (described + " " + panelId).trim());
      }
    });
    this.panel.addEventListener("click", this.onApply.bind(this));
  }

  /** The submit button follows the rules at once; the sentences follow once things settle. */
  StatusPanel.prototype.update = function (violations, immediately) {
    const broken = violations.length > 0;
    this.submits.forEach(function (button) { button.disabled = broken; });
    clearTimeout(this.timer);
    if (immediately) this.render(violations);
    else this.timer = setTimeout(this.render.bind(this, violations), STATUS_DELAY_MS);
  };

  StatusPanel.prototype.render = function (violations) {
    const ready = violations.length ? null : this.readySentence();
    const text = ready || violations.map(function (v) { return v.text; }).join("\n");
    if (text === this.lastText) return; // unchanged sentences are not read out again
    this.lastText = text;
    if (ready) {
      const sentence = document.createElement("p");
      sentence.textContent = ready;
      this.panel.replaceChildren(sentence);
      this.panel.className = "tl-status tl-status-ok";
      return;
    }
    const list = document.createElement("ul");
    violations.forEach(function (violation) {
      const item = document.createElement("li");
      item.textContent = violation.text + " ";
      if (violation.suggestion) item.appendChild(applyButton(violation.suggestion));
      list.appendChild(item);
    });
    const title = document.createElement("p");
    title.textContent = violations.length === 1 ? "One thing to fix before sending:" :
      violations.length + " things to fix before sending:";
    this.panel.replaceChildren(title, list);
    this.panel.className = "tl-status tl-status-bad";
  };

  function applyButton(suggestion) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link tl-apply";
    button.dataset.field = suggestion.field;
    button.dataset.ms = String(suggestion.ms);
    button.textContent = "Do it for me";
    return button;
  }

  StatusPanel.prototype.readySentence = function () {
    const state = this.editor.state;
    const face = this.editor.face();
    const lengthMs = state.endMs - state.startMs;
    const end = state.insertMs + lengthMs;
    const overlap = Rules.overlapMs(state.insertMs, end, face.startMs, face.endMs);
    return "✓ Ready: " + Rules.seconds(lengthMs) + " of speech from " +
      Rules.seconds(state.insertMs) + " to " + Rules.seconds(end) +
      " on the video, over the face for " + Rules.seconds(overlap) + ".";
  };

  StatusPanel.prototype.onApply = function (event) {
    const button = event.target.closest(".tl-apply");
    if (!button) return;
    this.editor.applySuggestion(FORM_FIELD_OF[button.dataset.field] || button.dataset.field,
      Number(button.dataset.ms));
  };

  // --- the editor: one state, many views ---------------------------------------------------

  function Editor(root) {
    this.root = root;
    this.page = readPage(root);
    this.fields = findFields(root);
    this.video = root.querySelector("[data-tl-video]");
    this.hasWaves = Boolean(window.WaveSurfer && window.WaveSurfer.Regions);
    this.state = this.initialState();
    this.placedByPerson = false; // until someone moves the clip, a chosen face places it
    this.editing = null; // the field being typed in is never rewritten under the cursor
    this.hoverFace = null;
    this.listeners = [];

    root.querySelectorAll("[data-tl-js]").forEach(function (part) { part.hidden = false; });
    this.track = new VideoTrack(this);
    this.clipWave = new ClipWave(this);
    this.mix = new MixPlayer(this);
    this.status = new StatusPanel(this);
    this.originalWave = this.hasWaves ? drawOriginalWave(this) : null;
    if (!this.hasWaves) this.clipWave.panel.remove();

    this.wireFields();
    this.wirePlayer();
    this.wireFaceEvents();
    this.track.zoomTo(1, 0);
    this.clipChosen(true);
  }

  Editor.prototype.initialState = function () {
    const fields = this.fields;
    const faceId = fields.face ? fields.face.value : "";
    return {
      faceId: faceId,
      clipId: fields.audio ? fields.audio.value : "",
      startMs: fields.sound_start ? secondsTextToMs(fields.sound_start.value) : null,
      endMs: fields.sound_end ? secondsTextToMs(fields.sound_end.value) : null,
      insertMs: fields.sound_insert ? secondsTextToMs(fields.sound_insert.value) : null,
      soundVolume: this.volumeOf(fields.sound_volume),
      originalVolume: this.volumeOf(fields.original_audio_volume),
      selectedFace: this.page.faces.get(faceId) || null,
    };
  };

  Editor.prototype.volumeOf = function (input) {
    const value = input ? Number(input.value) : 1;
    return Number.isFinite(value) ? value : null;
  };

  Editor.prototype.clip = function () {
    return this.page.clips.get(this.state.clipId) || null;
  };

  Editor.prototype.face = function () {
    return this.state.selectedFace;
  };

  Editor.prototype.currentMs = function () {
    return Math.round(this.video.currentTime * 1000);
  };

  Editor.prototype.lengthMs = function () {
    return Math.max(0, this.state.endMs - this.state.startMs);
  };

  Editor.prototype.latestInsertMs = function () {
    return Math.max(0, this.page.videoMs - this.lengthMs());
  };

  // Crop limits for dragging and keys: at least the minimum length, at most the video's length,
  // inside the audio. Typed values may go outside them; the rules then say what to change.
  Editor.prototype.cropStartRange = function () {
    const minCrop = this.page.limits.min_crop_ms;
    return [Math.max(0, this.state.endMs - this.page.videoMs), Math.max(0, this.state.endMs - minCrop)];
  };

  Editor.prototype.cropEndRange = function () {
    const clip = this.clip();
    const audioMs = clip ? clip.durationMs : this.state.endMs;
    const low = this.state.startMs + this.page.limits.min_crop_ms;
    return [Math.min(low, audioMs), Math.min(audioMs, this.state.startMs + this.page.videoMs)];
  };

  /** Apply a change and redraw every view except the one it came from. */
  Editor.prototype.update = function (changes, source) {
    Object.assign(this.state, changes);
    this.writeFields(source);
    this.track.drawClip(this.state, this.clip());
    this.clipWave.render(this.state, source);
    this.mix.refresh();
    this.status.update(this.violations(), source === "init" || source === "apply");
  };

  /** A drag or key finished: say where things stand now rather than after the delay. */
  Editor.prototype.settle = function () {
    this.status.update(this.violations(), true);
  };

  Editor.prototype.violations = function () {
    const clip = this.clip();
    const face = this.face();
    return Rules.checkTimeline({
      videoMs: this.page.videoMs,
      audioMs: clip ? clip.durationMs : null,
      faceStartMs: face ? face.startMs : null,
      faceEndMs: face ? face.endMs : null,
      soundStartMs: this.state.startMs,
      soundEndMs: this.state.endMs,
      soundInsertMs: this.state.insertMs,
      soundVolume: this.state.soundVolume,
      originalVolume: this.state.originalVolume,
    }, this.page.limits);
  };

  Editor.prototype.placeClip = function (insertMs, source) {
    this.placedByPerson = true;
    this.update({ insertMs: clamp(insertMs, 0, this.latestInsertMs()) }, source);
  };

  Editor.prototype.cropClip = function (startMs, endMs, source) {
    this.update({ startMs: startMs, endMs: endMs }, source);
  };

  Editor.prototype.applySuggestion = function (field, ms) {
    const changes = { sound_start: "startMs", sound_end: "endMs", sound_insert: "insertMs" };
    if (!changes[field]) return;
    if (field === "sound_insert") this.placedByPerson = true;
    this.update({ [changes[field]]: ms }, "apply");
    if (field === "sound_insert") this.track.block.focus();
    else this.clipWave.focusHandle(field === "sound_start" ? "start" : "end");
  };

  /** Where a clip goes before anyone moves it: at the face's entrance, inside the video. */
  Editor.prototype.suggestedInsertMs = function () {
    const face = this.face();
    const wanted = face && !this.placedByPerson ? face.startMs : this.state.insertMs || 0;
    return clamp(wanted, 0, this.latestInsertMs());
  };

  /** A clip was picked (or the page opened with one): fill what is missing and draw it. */
  Editor.prototype.clipChosen = function (opening) {
    const clip = this.clip();
    this.mix.clipChanged();
    if (this.hasWaves) this.clipWave.show(clip);
    if (!clip) {
      this.update({}, "init");
      return;
    }
    const keep = opening && this.state.startMs !== null && this.state.endMs !== null;
    const startMs = keep ? this.state.startMs : 0;
    const endMs = keep ? this.state.endMs : Math.min(clip.durationMs, this.page.videoMs);
    Object.assign(this.state, { startMs: startMs, endMs: endMs });
    const insertMs = opening && this.state.insertMs !== null
      ? this.state.insertMs : this.suggestedInsertMs();
    this.update({ insertMs: insertMs }, "init");
  };

  Editor.prototype.faceChosen = function (detail) {
    const id = String(detail.id);
    const face = { startMs: Number(detail.start_ms), endMs: Number(detail.end_ms) };
    this.page.faces.set(id, face);
    if (this.fields.face) this.fields.face.value = id;
    this.state.faceId = id;
    this.state.selectedFace = face;
    this.track.drawFace(face);
    const changes = this.clip() && !this.placedByPerson ? { insertMs: this.suggestedInsertMs() } : {};
    this.update(changes, "apply");
  };

  // --- wiring ---------------------------------------------------------------------------

  Editor.prototype.listen = function (target, name, handler, options) {
    target.addEventListener(name, handler, options);
    this.listeners.push([target, name, handler, options]);
  };

  Editor.prototype.writeFields = function (source) {
    const fields = this.fields;
    const state = this.state;
    const editing = source === "field" ? this.editing : null;
    [["sound_start", state.startMs], ["sound_end", state.endMs], ["sound_insert", state.insertMs]]
      .forEach(function (pair) {
        const input = fields[pair[0]];
        if (input && input !== editing && pair[1] !== null) input.value = msToSecondsText(pair[1]);
      });
  };

  Editor.prototype.wireFields = function () {
    const editor = this;
    const keys = { sound_start: "startMs", sound_end: "endMs", sound_insert: "insertMs" };
    Object.keys(keys).forEach(function (name) {
      const input = editor.fields[name];
      if (!input) return;
      input.addEventListener("input", function () {
        editor.editing = input;
        if (name === "sound_insert") editor.placedByPerson = true;
        editor.update({ [keys[name]]: secondsTextToMs(input.value) }, "field");
      });
      input.addEventListener("change", function () {
        editor.editing = null;
        editor.update({}, "apply"); // tidy the text to ms precision once typing is done
      });
    });
    ["sound_volume", "original_audio_volume"].forEach(function (name) {
      const input = editor.fields[name];
      if (!input) return;
      const output = editor.root.querySelector("[data-tl-field='" + name + "'] [data-tl-output]");
      const key = name === "sound_volume" ? "soundVolume" : "originalVolume";
      function showVolume() {
        if (output) output.textContent = formatVolume(input.value);
        editor.update({ [key]: editor.volumeOf(input) }, "field");
      }
      input.addEventListener("input", showVolume);
      showVolume();
    });
    if (this.fields.audio) {
      this.fields.audio.addEventListener("change", function () {
        editor.state.clipId = editor.fields.audio.value;
        editor.clipChosen(false);
      });
    }
  };

  Editor.prototype.seek = function (ms) {
    this.video.currentTime = clamp(ms, 0, this.page.videoMs) / 1000;
    this.showTime();
  };

  Editor.prototype.showTime = function () {
    const now = this.currentMs();
    this.track.drawPlayhead(now);
    this.root.querySelector("[data-tl-time]").textContent =
      timecode(now) + " / " + timecode(this.page.videoMs);
  };

  Editor.prototype.wirePlayer = function () {
    const editor = this;
    const video = this.video;
    const button = this.root.querySelector("[data-tl-play]");
    const label = this.root.querySelector("[data-tl-play-text]");
    button.addEventListener("click", function () {
      if (video.paused) video.play().catch(function () {});
      else video.pause();
    });
    // A click on the picture plays or pauses, as people expect from a player.
    video.addEventListener("click", function () { button.click(); });
    function frame() {
      editor.showTime();
      if (!video.paused) editor.animation = requestAnimationFrame(frame);
    }
    video.addEventListener("play", function () {
      label.textContent = "Pause";
      button.setAttribute("aria-label", "Pause");
      button.classList.add("tl-playing");
      editor.track.following = true;
      editor.animation = requestAnimationFrame(frame);
    });
    video.addEventListener("pause", function () {
      label.textContent = "Play";
      button.setAttribute("aria-label", "Play");
      button.classList.remove("tl-playing");
      editor.track.following = false;
      cancelAnimationFrame(editor.animation);
      editor.showTime();
    });
    video.addEventListener("seeked", this.showTime.bind(this));
    video.addEventListener("loadedmetadata", this.showTime.bind(this));
  };

  Editor.prototype.wireFaceEvents = function () {
    const editor = this;
    function faceOf(event) {
      const detail = event.detail || {};
      if (detail.start_ms === undefined || detail.end_ms === undefined) return null;
      return detail;
    }
    this.listen(document.body, "faceSelected", function (event) {
      const detail = faceOf(event);
      if (detail) editor.faceChosen(detail);
    });
    this.listen(document.body, "faceHover", function (event) {
      const detail = faceOf(event);
      editor.track.drawFaceHover(detail && { startMs: detail.start_ms, endMs: detail.end_ms });
    });
    this.listen(document.body, "faceHoverEnd", function () { editor.track.drawFaceHover(null); });
    this.track.drawFace(this.face());
  };

  Editor.prototype.destroy = function () {
    this.listeners.forEach(function (entry) {
      entry[0].removeEventListener(entry[1], entry[2], entry[3]);
    });
    this.mix.destroy();
    this.clipWave.destroy();
    if (this.originalWave) this.originalWave.destroy();
    this.track.destroy();
    cancelAnimationFrame(this.animation);
  };

  // --- start ------------------------------------------------------------------------------

  const editors = new Map();

  function start(scope) {
    const roots = scope.matches && scope.matches("[data-timeline]")
      ? [scope] : Array.from(scope.querySelectorAll("[data-timeline]"));
    roots.forEach(function (root) {
      if (editors.has(root) || !Rules) return;
      editors.set(root, new Editor(root));
    });
  }

  // htmx may swap the form (for example to show the server's errors): let go of the old editor.
  function stop(scope) {
    editors.forEach(function (editor, root) {
      if (scope === root || scope.contains(root)) {
        editor.destroy();
        editors.delete(root);
      }
    });
  }

  window.LipsyncTimeline = { start: start, stop: stop, editors: editors };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { start(document); });
  } else {
    start(document);
  }
  document.addEventListener("htmx:load", function (event) { start(event.target); });
  document.addEventListener("htmx:beforeCleanupElement", function (event) { stop(event.target); });
})();
