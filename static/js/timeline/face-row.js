// The chosen face's row on the video page: the one person row of its editor, labelled with the
// face's thumbnail, showing when the face is on screen (and, dashed, the face a card of the
// picker is hovered or focused on). Its line's block is drawn on it by LineBlocks, as on a
// dub's page, where the server draws a row per person.

import { seconds } from "../rules.js";
import { percentOf } from "./time.js";

export class FaceRow {
  constructor(root, videoMs) {
    this.videoMs = videoMs;
    this.lane = root.querySelector("[data-tl-person='face']");
    this.onScreen = this.lane.querySelector("[data-tl-on-screen]");
    this.hover = this.lane.querySelector("[data-tl-on-screen-hover]");
    this.name = root.querySelector("[data-tl-person-name='face']");
    this.thumbnail = this.name.querySelector("img");
    this.label = this.name.querySelector("[data-tl-person-label]");
    this.noFace = this.label.textContent;
  }

  /** `face`: {startMs, endMs, label, thumbnailUrl} from the page's catalogue, or null. */
  draw(id, face) {
    this.drawStretch(this.onScreen, face);
    this.name.dataset.faceId = face ? id : "";
    this.label.textContent = face ? face.label || "Chosen face" : this.noFace;
    const url = face && face.thumbnailUrl;
    this.thumbnail.hidden = !url;
    if (url) this.thumbnail.src = url;
    else this.thumbnail.removeAttribute("src");
    if (face) {
      this.onScreen.title = (face.label || "The face") + " on screen from " +
        seconds(face.startMs) + " to " + seconds(face.endMs);
    }
  }

  drawHover(face) {
    this.drawStretch(this.hover, face);
  }

  drawStretch(stretch, window) {
    stretch.hidden = !window;
    if (!window) return;
    stretch.style.left = percentOf(window.startMs, this.videoMs);
    stretch.style.width = percentOf(window.endMs - window.startMs, this.videoMs);
  }
}
