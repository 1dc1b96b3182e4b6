// The line of the video page's editor (projects/includes/timeline.html): one clip, cropped and
// placed over the chosen face, kept in the task form's fields. One state, many views: the state
// is in whole milliseconds (crop start and end, insert time, volumes, the chosen face and
// clip) and every change goes through `update(changes, from)`, which redraws every view except
// the one the change came from, so a field being typed in is never rewritten under the cursor
// and a dragged region is not set back. The views: the block on the face's row (LineBlocks),
// the face's row (FaceRow), ClipWave, MixPlayer and StatusPanel; the rules are rules.js's.

import { checkTimeline, seconds, suggestTimelineFix } from "../rules.js";
import { ClipWave } from "./clip-wave.js";
import { FaceRow } from "./face-row.js";
import { findFields, wireFaceEvents, wireFields } from "./form-wiring.js";
import { StatusPanel } from "./status-panel.js";
import { clamp, msToSecondsText, secondsTextToMs } from "./time.js";
import { waveSurfer } from "./waves.js";

const LINE_ID = "clip";

export class FormSource {
  constructor(editor) {
    this.editor = editor;
    this.root = editor.root;
    this.page = editor.page;
    this.fields = findFields(editor.root);
    this.editable = true;
    this.shortestMs = this.page.limits.min_crop_ms;
    this.commitDelayMs = 0; // a key's move is kept at once: the fields follow every step
    this.hasWaves = Boolean(waveSurfer());
    this.state = this.initialState();
    this.placedByPerson = false; // until someone moves the clip, a chosen face places it
    this.editing = null; // the field being typed in is never rewritten under the cursor
    this.faceRow = new FaceRow(editor.root, this.page.videoMs);
    this.clipWave = new ClipWave(this);
    this.status = new StatusPanel(this);
    if (!this.hasWaves) this.clipWave.panel.remove();
  }

  start() {
    wireFields(this);
    wireFaceEvents(this);
    this.faceRow.draw(this.state.faceId, this.face());
    this.clipChosen(true);
  }

  listen(target, name, handler, options) {
    this.editor.listen(target, name, handler, options);
  }

  initialState() {
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
  }

  volumeOf(input) {
    const value = input ? Number(input.value) : 1;
    return Number.isFinite(value) ? value : null;
  }

  clip() {
    return this.page.clips.get(this.state.clipId) || null;
  }

  face() {
    return this.state.selectedFace;
  }

  lengthMs() {
    return Math.max(0, this.state.endMs - this.state.startMs);
  }

  latestInsertMs() {
    return Math.max(0, this.page.videoMs - this.lengthMs());
  }

  // Crop limits for dragging and keys: at least the minimum length, at most the video's length,
  // inside the audio. Typed values may go outside them; the rules then say what to change.
  cropStartRange() {
    const minCrop = this.page.limits.min_crop_ms;
    return [Math.max(0, this.state.endMs - this.page.videoMs), Math.max(0, this.state.endMs - minCrop)];
  }

  cropEndRange() {
    const clip = this.clip();
    const audioMs = clip ? clip.durationMs : this.state.endMs;
    const low = this.state.startMs + this.page.limits.min_crop_ms;
    return [Math.min(low, audioMs), Math.min(audioMs, this.state.startMs + this.page.videoMs)];
  }

  /** The one line, in the words of line-blocks.js; none until a clip and its times are there. */
  lines() {
    const clip = this.clip();
    const state = this.state;
    if (!clip || state.insertMs === null || state.startMs === null || state.endMs === null) return [];
    return [{
      id: LINE_ID, person: "face", name: "The new speech",
      label: seconds(this.lengthMs()) + " · " + clip.label, clipLabel: clip.label,
      atMs: state.insertMs, cropStartMs: state.startMs, cropEndMs: state.endMs,
      clipMs: clip.durationMs, problem: "",
    }];
  }

  /** Apply a change and redraw every view except the one it came from. */
  update(changes, from) {
    Object.assign(this.state, changes);
    this.writeFields();
    this.editor.linesChanged();
    this.clipWave.render(this.state, from);
    this.status.update(this.violations(), this.fix(), from === "init" || from === "apply");
  }

  /** A drag or key finished: say where things stand now rather than after the delay. */
  settle() {
    this.status.update(this.violations(), this.fix(), true);
  }

  violations() {
    return checkTimeline(this.ruleState(), this.page.limits);
  }

  /** One fix for every broken timing rule ("Do it for me"), or null. */
  fix() {
    return suggestTimelineFix(this.ruleState(), this.page.limits);
  }

  /** The state in the words of rules.js. */
  ruleState() {
    const clip = this.clip();
    const face = this.face();
    return {
      videoMs: this.page.videoMs,
      audioMs: clip ? clip.durationMs : null,
      faceStartMs: face ? face.startMs : null,
      faceEndMs: face ? face.endMs : null,
      soundStartMs: this.state.startMs,
      soundEndMs: this.state.endMs,
      soundInsertMs: this.state.insertMs,
      soundVolume: this.state.soundVolume,
      originalVolume: this.state.originalVolume,
    };
  }

  // What the block on the face's row asks: how far it may go, its moves and their ends.
  latestStartMs(place) {
    return Math.max(0, this.page.videoMs - (place.cropEndMs - place.cropStartMs));
  }

  change(line, place) {
    if (place.atMs !== this.state.insertMs) this.placedByPerson = true;
    this.update({ insertMs: place.atMs, startMs: place.cropStartMs, endMs: place.cropEndMs }, "block");
  }

  commit(line, place, release) {
    release();
    this.settle();
  }

  tell() {} // the rules panel says what the rules think, always

  cropClip(startMs, endMs, from) {
    this.update({ startMs: startMs, endMs: endMs }, from);
  }

  /** "Do it for me": the crop and insert time that keep every rule at once. */
  applyFix(fix) {
    const cropChanges = fix.soundStartMs !== this.state.startMs || fix.soundEndMs !== this.state.endMs;
    this.placedByPerson = true;
    this.update({ startMs: fix.soundStartMs, endMs: fix.soundEndMs, insertMs: fix.soundInsertMs }, "apply");
    // The button is gone with the broken rules: the keyboard stays on what was changed.
    if (cropChanges && this.hasWaves) this.clipWave.focusHandle("end");
    else this.editor.blocks.focus(LINE_ID);
  }

  /** Where a clip goes before anyone moves it: at the face's entrance, inside the video. */
  suggestedInsertMs() {
    const face = this.face();
    const wanted = face && !this.placedByPerson ? face.startMs : this.state.insertMs || 0;
    return clamp(wanted, 0, this.latestInsertMs());
  }

  /** A clip was picked (or the page opened with one): fill what is missing and draw it. */
  clipChosen(opening) {
    const clip = this.clip();
    this.editor.mix.refresh();
    if (this.hasWaves) this.clipWave.show(clip);
    if (!clip) {
      this.update({}, "init");
      return;
    }
    // On opening, what the page's fields hold stays, even text that is not a time (the rules
    // then say so; the server's own error is beside it): only empty fields get a default.
    const keep = (name) => opening && this.fieldHasText(name);
    const startMs = keep("sound_start") ? this.state.startMs : 0;
    const endMs = keep("sound_end") ? this.state.endMs : Math.min(clip.durationMs, this.page.videoMs);
    Object.assign(this.state, { startMs: startMs, endMs: endMs });
    const insertMs = keep("sound_insert") ? this.state.insertMs : this.suggestedInsertMs();
    this.update({ insertMs: insertMs }, "init");
  }

  fieldHasText(name) {
    const input = this.fields[name];
    return Boolean(input && input.value.trim());
  }

  /** The face picker chose a face (its answer may come while a time is typed). */
  faceChosen(detail) {
    const id = String(detail.id);
    const face = Object.assign({}, this.page.faces.get(id),
      { startMs: Number(detail.start_ms), endMs: Number(detail.end_ms) });
    this.page.faces.set(id, face);
    if (this.fields.face) this.fields.face.value = id;
    this.state.faceId = id;
    this.state.selectedFace = face;
    this.faceRow.draw(id, face);
    const changes = this.clip() && !this.placedByPerson ? { insertMs: this.suggestedInsertMs() } : {};
    this.update(changes, "apply");
  }

  /** Show the state in the form's fields, except the one being typed in: whatever changes
   *  meanwhile (a face picked, whose answer may come late) never rewrites text under the
   *  cursor. Typing ends with the field's change event, which tidies it. */
  writeFields() {
    const fields = this.fields;
    const state = this.state;
    const editing = this.editing;
    [["sound_start", state.startMs], ["sound_end", state.endMs], ["sound_insert", state.insertMs]]
      .forEach(function (pair) {
        const input = fields[pair[0]];
        if (input && input !== editing && pair[1] !== null) input.value = msToSecondsText(pair[1]);
      });
  }

  /** What "Listen to the mix" plays over the video: the cropped clip at its insert time. */
  mixSounds() {
    const clip = this.clip();
    return this.lines().map((line) => ({
      key: clip.id, url: clip.url, atMs: line.atMs, fromMs: line.cropStartMs,
      lengthMs: Math.max(0, line.cropEndMs - line.cropStartMs), volume: this.state.soundVolume,
    }));
  }

  originalVolume() {
    return this.state.originalVolume;
  }

  beforeMix() {
    this.clipWave.pause();
  }

  destroy() {
    this.clipWave.destroy();
  }
}
