// Connects an editor to what is around its views: the form's fields (typing updates the
// state), the video player (play, pause, the playhead's frame loop) and the face picker's
// events on document.body (faceSelected, faceHover, faceHoverEnd).

import { formatVolume, secondsTextToMs } from "./time.js";

export function wireFields(editor) {
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
  if (editor.fields.audio) {
    editor.fields.audio.addEventListener("change", function () {
      editor.state.clipId = editor.fields.audio.value;
      editor.clipChosen(false);
    });
  }
}

export function wirePlayer(editor) {
  const video = editor.video;
  const button = editor.root.querySelector("[data-tl-play]");
  const label = editor.root.querySelector("[data-tl-play-text]");
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
  video.addEventListener("seeked", editor.showTime.bind(editor));
  video.addEventListener("loadedmetadata", editor.showTime.bind(editor));
}

export function wireFaceEvents(editor) {
  function faceOf(event) {
    const detail = event.detail || {};
    if (detail.start_ms === undefined || detail.end_ms === undefined) return null;
    return detail;
  }
  editor.listen(document.body, "faceSelected", function (event) {
    const detail = faceOf(event);
    if (detail) editor.faceChosen(detail);
  });
  editor.listen(document.body, "faceHover", function (event) {
    const detail = faceOf(event);
    editor.track.drawFaceHover(detail && { startMs: detail.start_ms, endMs: detail.end_ms });
  });
  editor.listen(document.body, "faceHoverEnd", function () { editor.track.drawFaceHover(null); });
  editor.track.drawFace(editor.face());
}
