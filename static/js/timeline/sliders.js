// Slider behaviour for plain elements (the line blocks and their edges, the ruler, the crop
// handles): their ARIA values in seconds, the keys that move them, and a pointer drag that
// works alike for mouse, pen and touch.

import { clamp } from "./time.js";

const KEY_STEP_MS = 100;
const KEY_BIG_STEP_MS = 1000;

/** Slider semantics on any element, in seconds for assistive technology. */
export function setSliderValues(element, valueMs, minMs, maxMs, text) {
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
export function bindSliderKeys(element, getValue, range, setValue) {
  element.addEventListener("keydown", function (event) {
    const delta = keyDeltaMs(event);
    if (delta === null) return;
    event.preventDefault();
    const bounds = range();
    setValue(clamp(getValue() + delta, bounds[0], bounds[1]));
  });
}

/** Pointer drag (mouse, pen, touch) reporting the horizontal move in px since the press. */
export function bindHorizontalDrag(element, handlers) {
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
