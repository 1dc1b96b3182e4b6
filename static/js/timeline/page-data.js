// What the page tells the editor: the video's length, pictures and sound, the rules' limits and,
// on the video page, the clips and faces to choose from (written by the editor's template as
// `data-` attributes and `json_script` blocks; a dub's page has no clips or faces to choose).

import { DEFAULT_LIMITS } from "../rules.js";

function readJson(root, selector) {
  const element = root.querySelector(selector);
  if (!element) return null;
  try {
    return JSON.parse(element.textContent);
  } catch (error) {
    return null;
  }
}

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
      label: node.dataset.label || "",
      thumbnailUrl: node.dataset.thumbnailUrl || "",
    });
  });
  return faces;
}

/** The thumbnail strip: its tile sizes (a `json_script` block) and its address and count. */
function readStrip(root, selector) {
  return Object.assign(readJson(root, selector) || {}, {
    url: root.dataset.stripUrl || "",
    count: Number(root.dataset.stripCount) || 0,
  });
}

export function readPage(root) {
  return {
    videoMs: Number(root.dataset.durationMs) || 0,
    limits: Object.assign({}, DEFAULT_LIMITS, readJson(root, "#timeline-rules") || {}),
    videoPeaks: readJson(root, "#video-peaks") || {},
    strip: readStrip(root, "#video-strip"),
    clips: readClips(root),
    faces: readFaces(root),
  };
}
