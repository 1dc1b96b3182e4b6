// "Listen to the mix" (the video page) and "Listen to the dub" (a dub's page), with Web Audio:
// the video plays from the playhead, its sound through a gain of the original's volume; each
// sound the editor gives (`editor.mixSounds()`: a line's crop at its time, with its volume) is
// scheduled on the video's clock; everything passes through the server mix's soft limiter.

const MIX_DRIFT_S = 0.12;
const MIX_LEAD_IN_MS = 1000;
const LIMITER_KNEE = 0.9; // as projects/engines/local/audio.py, so the preview bends alike

// The server mixes the sides and bends the sum with a soft knee (engines/local/audio.py
// soft_limit). A WaveShaper with the same curve does it here. Its input is scaled down by the
// largest possible sum so the curve covers every level the volumes can reach.
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

/**
 * The editor gives: `video`, `root` (with [data-tl-listen] and [data-tl-mix-note]),
 * `page.limits.volume_max`, `currentMs()`, `mixSounds()` -> [{key, url, atMs, fromMs, lengthMs,
 * volume}], `mixOriginalVolume()`, and may give `beforeMix()` (to pause its own players).
 */
export class MixPlayer {
  constructor(editor) {
    this.editor = editor;
    this.video = editor.video;
    this.button = editor.root.querySelector("[data-tl-listen]");
    this.idleText = this.button.textContent.trim();
    this.stopText = this.button.dataset.stopText || "Stop listening";
    this.note = editor.root.querySelector("[data-tl-mix-note]");
    this.context = null;
    this.buffers = new Map(); // url -> Promise<AudioBuffer>
    this.sounds = []; // the sounds being mixed, each with its decoded buffer
    this.sources = [];
    this.scheduled = []; // {when, intoS, rate, atS} of each sound now playing or due
    this.mixing = false;
    this.starting = false; // the sounds are being fetched and decoded
    this.button.addEventListener("click", this.toggle.bind(this));
    this.wireVideo();
  }

  ensureGraph() {
    if (this.context) return;
    const context = new AudioContext();
    const maxLevel = this.maxLevel();
    this.originalGain = new GainNode(context);
    this.soundsInput = new GainNode(context, { gain: 1 / maxLevel });
    const limiter = new WaveShaperNode(context, { curve: softLimitCurve(maxLevel) });
    // From now on the video's sound only reaches the speakers through this graph.
    context.createMediaElementSource(this.video).connect(this.originalGain);
    this.originalGain.connect(this.soundsInput);
    this.soundsInput.connect(limiter).connect(context.destination);
    this.context = context;
  }

  /** The loudest sum the original and the sounds can make: all at the highest volume. */
  maxLevel() {
    const most = this.editor.page.limits.volume_max;
    return most * (1 + Math.max(1, this.editor.mixSounds().length));
  }

  buffer(url) {
    if (!this.buffers.has(url)) {
      const context = this.context;
      const pending = fetch(url, { credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.arrayBuffer();
        })
        .then(function (bytes) { return context.decodeAudioData(bytes); });
      pending.catch(function () {});
      this.buffers.set(url, pending);
    }
    return this.buffers.get(url);
  }

  toggle() {
    if (this.mixing) {
      this.video.pause();
      this.stop(); // at once: the pause event that also stops the mix comes a moment later
    } else if (!this.starting) {
      this.start();
    }
  }

  async start() {
    const wanted = this.editor.mixSounds();
    if (!wanted.length) return;
    this.ensureGraph();
    if (this.editor.beforeMix) this.editor.beforeMix();
    this.say(wanted.length > 1 ? "Preparing the lines…" : "Preparing the clip…");
    this.starting = true;
    let buffers;
    try {
      await this.context.resume();
      buffers = await Promise.all(wanted.map((sound) => this.buffer(sound.url)));
    } catch (error) {
      this.say("The sound could not be loaded for listening. This does not change what is made.");
      return;
    } finally {
      this.starting = false;
    }
    // Another clip was chosen, or a line moved, while they loaded: mix what is there now.
    this.sounds = this.withBuffers(this.editor.mixSounds(), wanted, buffers);
    if (!this.sounds.length) return;
    this.say("");
    this.mixing = true;
    this.showMixing();
    this.applyVolumes();
    this.video.currentTime = this.startPositionMs() / 1000;
    this.video.play().catch(this.stop.bind(this));
  }

  withBuffers(sounds, loaded, buffers) {
    const byUrl = new Map(loaded.map(function (sound, index) { return [sound.url, buffers[index]]; }));
    return sounds.filter(function (sound) { return byUrl.has(sound.url); })
      .map(function (sound) { return Object.assign({ buffer: byUrl.get(sound.url) }, sound); });
  }

  /** A second before the first sound, so nobody waits through the unchanged start; from the
   *  playhead instead when someone has put it between there and the last sound's end. */
  startPositionMs() {
    const here = this.editor.currentMs();
    const first = Math.min.apply(null, this.sounds.map(function (sound) { return sound.atMs; }));
    const last = Math.max.apply(null, this.sounds.map(function (sound) {
      return sound.atMs + sound.lengthMs;
    }));
    const leadIn = Math.max(0, first - MIX_LEAD_IN_MS);
    if (here >= leadIn && here < last && !this.video.ended) return here;
    return leadIn;
  }

  applyVolumes() {
    if (!this.context) return;
    // Outside a mix the video plays as it is; inside, as the engine will hear it.
    this.originalGain.gain.value = this.mixing ? this.editor.mixOriginalVolume() : 1;
  }

  /** Start each sound so that it is heard at its time on the video's clock. */
  schedule() {
    this.unschedule();
    if (!this.mixing || this.video.paused) return;
    const rate = this.video.playbackRate || 1;
    const videoS = this.video.currentTime;
    this.sounds.forEach((sound) => {
      const lengthS = sound.lengthMs / 1000;
      const atS = sound.atMs / 1000;
      const intoS = Math.max(0, videoS - atS);
      if (lengthS <= 0 || intoS >= lengthS) return;
      const gain = new GainNode(this.context, { gain: sound.volume });
      gain.connect(this.soundsInput);
      const source = new AudioBufferSourceNode(this.context, { buffer: sound.buffer });
      source.playbackRate.value = rate;
      source.connect(gain);
      const when = this.context.currentTime + Math.max(0, atS - videoS) / rate;
      source.start(when, sound.fromMs / 1000 + intoS, lengthS - intoS);
      this.sources.push(source, gain);
      this.scheduled.push({ when: when, intoS: intoS, rate: rate, atS: atS });
    });
  }

  unschedule() {
    this.sources.forEach(function (node) {
      if (node.stop) node.stop();
      node.disconnect();
    });
    this.sources = [];
    this.scheduled = [];
  }

  // The media element and the audio context keep separate clocks: re-align if they drift apart.
  checkDrift() {
    const now = this.context.currentTime;
    const playing = this.scheduled.find(function (plan) { return now >= plan.when; });
    if (!playing) return;
    const heard = playing.intoS + (now - playing.when) * playing.rate;
    const wanted = this.video.currentTime - playing.atS;
    if (Math.abs(heard - wanted) > MIX_DRIFT_S) this.schedule();
  }

  stop() {
    this.mixing = false;
    this.unschedule();
    this.applyVolumes();
    this.showMixing();
  }

  wireVideo() {
    const mix = this;
    this.video.addEventListener("playing", function () { mix.schedule(); });
    this.video.addEventListener("seeked", function () { mix.schedule(); });
    this.video.addEventListener("ratechange", function () { mix.schedule(); });
    this.video.addEventListener("seeking", function () { mix.unschedule(); });
    this.video.addEventListener("timeupdate", function () { if (mix.mixing) mix.checkDrift(); });
    this.video.addEventListener("pause", function () { mix.stop(); });
  }

  /** The editor changed what there is to mix (a crop, a time, a volume, another clip, lines
   *  moved): mix the new sounds; a sound not loaded yet stops the mix, to be started again. */
  refresh() {
    const fresh = this.editor.mixSounds();
    this.button.disabled = !fresh.length && !this.mixing;
    if (this.mixing) {
      const loaded = this.sounds;
      const known = fresh.every(function (sound) {
        return loaded.some(function (old) { return old.url === sound.url; });
      });
      if (!known) {
        this.video.pause(); // a new clip needs loading: start again by hand
        return;
      }
      this.sounds = this.withBuffers(fresh, loaded, loaded.map(function (old) { return old.buffer; }));
    }
    this.applyVolumes();
    if (this.mixing) this.schedule();
  }

  showMixing() {
    this.button.setAttribute("aria-pressed", String(this.mixing));
    this.button.textContent = this.mixing ? this.stopText : this.idleText;
  }

  say(text) {
    this.note.textContent = text;
  }

  destroy() {
    this.unschedule();
    if (this.context) this.context.close();
  }
}
