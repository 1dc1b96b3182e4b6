// Connects the video page's line (FormSource) to what is around it: the task form's fields
// (typing updates the state; the state is shown in them) and the face picker's events on
// document.body (faceSelected, faceHover, faceHoverEnd).

import { formatVolume, secondsTextToMs } from "./time.js";

/** The form's fields the editor keeps in step, found by their [data-tl-field] wrappers. */
export function findFields(root) {
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

export function wireFields(form) {
  const keys = { sound_start: "startMs", sound_end: "endMs", sound_insert: "insertMs" };
  Object.keys(keys).forEach(function (name) {
    const input = form.fields[name];
    if (!input) return;
    input.addEventListener("input", function () {
      form.editing = input;
      if (name === "sound_insert") form.placedByPerson = true;
      form.update({ [keys[name]]: secondsTextToMs(input.value) }, "field");
    });
    input.addEventListener("change", function () {
      form.editing = null;
      form.update({}, "apply"); // tidy the text to ms precision once typing is done
    });
  });
  ["sound_volume", "original_audio_volume"].forEach(function (name) {
    const input = form.fields[name];
    if (!input) return;
    const output = form.root.querySelector("[data-tl-field='" + name + "'] [data-tl-output]");
    const key = name === "sound_volume" ? "soundVolume" : "originalVolume";
    function showVolume() {
      if (output) output.textContent = formatVolume(input.value);
      form.update({ [key]: form.volumeOf(input) }, "field");
    }
    input.addEventListener("input", showVolume);
    showVolume();
  });
  if (form.fields.audio) {
    form.fields.audio.addEventListener("change", function () {
      form.state.clipId = form.fields.audio.value;
      form.clipChosen(false);
    });
  }
}

export function wireFaceEvents(form) {
  function faceOf(event) {
    const detail = event.detail || {};
    if (detail.start_ms === undefined || detail.end_ms === undefined) return null;
    return detail;
  }
  form.listen(document.body, "faceSelected", function (event) {
    const detail = faceOf(event);
    if (detail) form.faceChosen(detail);
  });
  form.listen(document.body, "faceHover", function (event) {
    const detail = faceOf(event);
    form.faceRow.drawHover(detail && { startMs: detail.start_ms, endMs: detail.end_ms });
  });
  form.listen(document.body, "faceHoverEnd", function () { form.faceRow.drawHover(null); });
}
