// Before and after in step: one control plays, pauses and moves both videos of a
// [data-compare] block (the task page and the review panel), from a second before the new
// speech (`data-start-ms`). One of the two is heard at a time. Without this script each video
// keeps its own controls and opens at the edit through its `#t=` media fragment.
// An ES module; it starts on page load and on every htmx swap.

const DRIFT_S = 0.15; // the follower is put back on the leader's time beyond this

function timecode(seconds) {
  const tenths = Math.max(0, Math.round(seconds * 10));
  const minutes = Math.floor(tenths / 600);
  const rest = tenths % 600;
  return minutes + ":" + String(Math.floor(rest / 10)).padStart(2, "0") + "." + (rest % 10);
}

function element(tag, attributes, text) {
  const node = document.createElement(tag);
  Object.entries(attributes || {}).forEach(function (entry) { node.setAttribute(entry[0], entry[1]); });
  if (text) node.textContent = text;
  return node;
}

class Comparison {
  constructor(root, index) {
    this.root = root;
    this.before = root.querySelector("[data-compare-before]");
    this.after = root.querySelector("[data-compare-after]");
    this.startS = (Number(root.dataset.startMs) || 0) / 1000;
    this.controls = this.buildControls(index);
    root.after(this.controls);
    [this.before, this.after].forEach(function (video) {
      video.controls = false; // one control for both, so they cannot drift apart by hand
      video.preload = "auto";
    });
    this.hear("after");
    this.wire();
    this.showTime();
  }

  buildControls(index) {
    const bar = element("div", { class: "compare-controls", role: "group",
      "aria-label": "Before and after together" });
    this.play = element("button", { type: "button", class: "primary", "data-compare-play": "" },
      "Play both");
    this.replay = element("button", { type: "button", "data-compare-replay": "" },
      "Replay from " + timecode(this.startS));
    this.slider = element("input", { type: "range", min: "0", max: "0", step: "0.1",
      value: String(this.startS), "aria-label": "Position in both videos", "data-compare-position": "" });
    this.time = element("span", { class: "compare-time", "aria-hidden": "true" });
    const sound = element("fieldset", { class: "compare-sound" });
    sound.appendChild(element("legend", {}, "Sound from"));
    ["after", "before"].forEach(function (side) {
      const label = element("label");
      const radio = element("input", { type: "radio", name: "compare-sound-" + index, value: side });
      if (side === "after") radio.checked = true;
      label.append(radio, " " + (side === "after" ? "After" : "Before"));
      sound.appendChild(label);
    }, this);
    bar.append(this.play, this.replay, this.slider, this.time, sound);
    return bar;
  }

  wire() {
    const self = this;
    this.play.addEventListener("click", function () {
      if (self.after.paused) self.playBoth();
      else self.pauseBoth();
    });
    this.replay.addEventListener("click", function () {
      self.seekBoth(self.startS);
      self.playBoth();
    });
    this.slider.addEventListener("input", function () { self.seekBoth(Number(self.slider.value)); });
    this.controls.querySelectorAll("input[type=radio]").forEach(function (radio) {
      radio.addEventListener("change", function () { self.hear(radio.value); });
    });
    this.after.addEventListener("loadedmetadata", function () {
      self.slider.max = String(self.after.duration || 0);
      // The media fragment already opened it at the edit; make sure both agree.
      self.seekBoth(Math.min(self.startS, self.after.duration || self.startS));
    });
    this.after.addEventListener("timeupdate", function () {
      self.follow();
      self.showTime();
    });
    this.after.addEventListener("pause", function () { self.showPlaying(); });
    this.after.addEventListener("play", function () { self.showPlaying(); });
    this.after.addEventListener("ended", function () { self.before.pause(); });
    if (this.after.readyState >= 1) this.slider.max = String(this.after.duration || 0);
  }

  playBoth() {
    if (this.after.ended) this.seekBoth(this.startS);
    this.before.currentTime = this.after.currentTime;
    const quiet = function () {};
    this.before.play().catch(quiet);
    this.after.play().catch(quiet);
  }

  pauseBoth() {
    this.after.pause();
    this.before.pause();
    this.before.currentTime = this.after.currentTime;
  }

  seekBoth(seconds) {
    this.after.currentTime = seconds;
    this.before.currentTime = seconds;
    this.showTime();
  }

  /** The "after" video leads; "before" is put back on its time when they drift apart. */
  follow() {
    if (Math.abs(this.before.currentTime - this.after.currentTime) > DRIFT_S) {
      this.before.currentTime = this.after.currentTime;
    }
  }

  hear(side) {
    this.before.muted = side !== "before";
    this.after.muted = side !== "after";
  }

  showPlaying() {
    this.play.textContent = this.after.paused ? "Play both" : "Pause both";
  }

  showTime() {
    const now = this.after.currentTime || 0;
    this.slider.value = String(now);
    this.slider.setAttribute("aria-valuetext", timecode(now));
    this.time.textContent = timecode(now) + " / " + timecode(this.after.duration || 0);
  }
}

export const comparisons = new Map();

export function start(scope) {
  scope.querySelectorAll("[data-compare]").forEach(function (root) {
    if (comparisons.has(root)) return;
    if (!root.querySelector("[data-compare-before]") || !root.querySelector("[data-compare-after]")) return;
    comparisons.set(root, new Comparison(root, comparisons.size));
  });
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", function () { start(document); });
} else {
  start(document);
}
document.addEventListener("htmx:load", function (event) { start(event.target); });
