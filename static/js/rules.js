// The Kling contract's timeline rules for the browser, as pure functions (no DOM).
//
// They mirror projects/engines/rules.py word for word, so a person reads the same sentence while
// dragging as the server would answer after posting. Each check returns a list of violations
// (empty when fine): {code, field, message, fix, text}; `field` is the contract's name (e.g.
// "sound_insert_time"). suggestTimingFix works out one fix for every broken timing rule at
// once, which the editor offers as "Do it for me". Times are whole milliseconds.
// An ES module: the timeline editor (static/js/timeline/) imports what it uses.

export const MISSING_OR_INVALID = 1200;
export const ILLEGAL_VALUE = 1201;

// The same numbers as projects/engines/limits.py; the page sends its own copy (`rules`),
// which wins, so the server stays the one source of truth.
export const DEFAULT_LIMITS = Object.freeze({
  min_crop_ms: 2000,
  min_overlap_ms: 2000,
  min_audio_ms: 2000,
  max_audio_ms: 60000,
  volume_max: 2,
});

function withDefaults(limits) {
  return Object.assign({}, DEFAULT_LIMITS, limits || {});
}

/** Milliseconds as a short human reading, as rules.seconds: 1300 -> "1.3 s", 2000 -> "2 s". */
export function seconds(ms) {
  const value = (ms / 1000).toFixed(3).replace(/0+$/, "").replace(/\.$/, "");
  return (value === "-0" ? "0" : value) + " s";
}

/** A number as Python's "{:g}" writes it for the values used here (volumes): 1.5 -> "1.5". */
export function formatG(value) {
  return String(Number(Number(value).toPrecision(6)));
}

function violation(code, field, message, fix) {
  return {
    code: code,
    field: field,
    message: message,
    fix: fix || "",
    text: (message + " " + (fix || "")).trim(),
  };
}

function illegal(field, message, fix) {
  return [violation(ILLEGAL_VALUE, field, message, fix)];
}

export function overlapMs(startA, endA, startB, endB) {
  return Math.max(0, Math.min(endA, endB) - Math.max(startA, startB));
}

/** The cropped clip lasts at least 2 s and ends within the audio. */
export function checkCrop(args, limits) {
  const minCrop = withDefaults(limits).min_crop_ms;
  const found = [];
  const clipMs = args.soundEndMs - args.soundStartMs;
  if (clipMs < minCrop) {
    found.push(
      ...illegal(
        "sound_end_time",
        "The audio clip must last at least " + seconds(minCrop) + "; " +
          "it lasts " + seconds(Math.max(clipMs, 0)) + ".",
        lengthenCropFix(args, minCrop)
      )
    );
  }
  if (args.soundEndMs > args.audioMs) {
    found.push(
      ...illegal(
        "sound_end_time",
        "The clip ends at " + seconds(args.soundEndMs) + ", after the audio's end " +
          "(" + seconds(args.audioMs) + ").",
        "End it at " + seconds(args.audioMs) + " or earlier."
      )
    );
  }
  return found;
}

// How to make a short crop long enough without running past the audio's end (which the other
// crop rule forbids): later end, else earlier start, else another clip.
function lengthenCropFix(args, minCrop) {
  if (args.soundStartMs + minCrop <= args.audioMs) {
    return "End it at " + seconds(args.soundStartMs + minCrop) + " or later.";
  }
  if (args.audioMs >= minCrop) return "Start it at " + seconds(args.audioMs - minCrop) + " or earlier.";
  return "Choose a longer audio clip.";
}

/** The inserted range [insert, insert + clip] lies inside the video. */
export function checkInsertInsideVideo(args) {
  const endMs = args.soundInsertMs + args.clipMs;
  if (endMs <= args.videoMs) return [];
  const latest = args.videoMs - args.clipMs;
  const fix = latest < 0
    ? "Shorten the clip to " + seconds(args.videoMs) + " or less."
    : "Insert it at " + seconds(latest) + " or earlier.";
  return illegal(
    "sound_insert_time",
    "The clip would end at " + seconds(endMs) + ", after the video's end (" +
      seconds(args.videoMs) + ").",
    fix
  );
}

/** The inserted clip overlaps the face's window by at least 2 s; suggest the smallest move. */
export function checkFaceOverlap(args, limits) {
  const need = withDefaults(limits).min_overlap_ms;
  const clipEnd = args.soundInsertMs + args.clipMs;
  const have = overlapMs(args.soundInsertMs, clipEnd, args.faceStartMs, args.faceEndMs);
  if (have >= need) return [];
  const message = "The clip must overlap the face's window by at least " + seconds(need) +
    "; it overlaps " + seconds(have) + ".";
  const faceMs = args.faceEndMs - args.faceStartMs;
  if (faceMs < need) {
    return illegal(
      "sound_insert_time",
      message,
      "This face is on screen for only " + seconds(faceMs) + "; pick another face."
    );
  }
  // Inserts that give enough overlap form one interval; so do inserts inside the video.
  const lowest = Math.max(args.faceStartMs + need - args.clipMs, 0);
  const highest = Math.min(args.faceEndMs - need, args.videoMs - args.clipMs);
  if (lowest > highest) {
    return illegal("sound_insert_time", message, "Shorten the clip or pick another face.");
  }
  const target = Math.min(Math.max(args.soundInsertMs, lowest), highest);
  const shift = target - args.soundInsertMs;
  const direction = shift > 0 ? "later" : "earlier";
  return illegal(
    "sound_insert_time",
    message,
    "Move it " + seconds(Math.abs(shift)) + " " + direction + "."
  );
}

/** Every timeline rule of an advanced lip-sync, in the order a person would fix them. */
export function checkAdvancedTiming(args, limits) {
  const found = checkCrop(args, limits);
  if (found.length) {
    // Placement rules depend on the clip's length: judge them once the crop is right.
    return found;
  }
  const clipMs = args.soundEndMs - args.soundStartMs;
  const placed = Object.assign({}, args, { clipMs: clipMs });
  return checkInsertInsideVideo(placed).concat(checkFaceOverlap(placed, limits));
}

/**
 * One fix for every broken timing rule of a line, as rules.suggest_timing_fix: null when no rule
 * is broken, else {sentence, soundStartMs, soundEndMs, soundInsertMs, canApply}. Fixing rules one
 * by one can go round in circles (a longer crop runs past the audio's end, an earlier end makes
 * it too short again), so the fix is worked out for all rules together: the crop that changes
 * least, then the insert time nearest the current one. When no crop or insert time can work,
 * `canApply` is false and `sentence` says what to change instead.
 */
export function suggestTimingFix(args, limits) {
  if (!checkAdvancedTiming(args, limits).length) return null;
  const known = withDefaults(limits);
  const need = known.min_overlap_ms;
  const shortest = Math.max(known.min_crop_ms, need); // a shorter clip cannot give the overlap
  const faceOnVideoMs = Math.max(Math.min(args.faceEndMs, args.videoMs) - args.faceStartMs, 0);
  if (args.audioMs < shortest) {
    return cannotFix("Nothing here can make this line work: the audio clip lasts only " +
      seconds(args.audioMs) + ", less than the " + seconds(shortest) + " the rules need. " +
      "Choose a longer clip.");
  }
  if (faceOnVideoMs < need) {
    return cannotFix("Nothing here can make this line work: the face is on screen for only " +
      seconds(faceOnVideoMs) + ", less than the " + seconds(need) + " the rules need. " +
      "Pick another face.");
  }
  const crop = nearestCrop(args.soundStartMs, args.soundEndMs, args.audioMs, shortest, args.videoMs);
  const clipMs = crop[1] - crop[0];
  // The inserts with enough overlap that keep the clip inside the video (never empty here).
  const lowest = Math.max(args.faceStartMs + need - clipMs, 0);
  const highest = Math.min(args.faceEndMs - need, args.videoMs - clipMs);
  const insertMs = Math.min(Math.max(args.soundInsertMs, lowest), highest);
  const changes = [];
  if (crop[0] !== args.soundStartMs || crop[1] !== args.soundEndMs) {
    changes.push("use the audio from " + seconds(crop[0]) + " to " + seconds(crop[1]));
  }
  if (insertMs !== args.soundInsertMs) {
    changes.push("place it at " + seconds(insertMs) + " on the video");
  }
  const sentence = changes.join(" and ") + ".";
  return {
    sentence: sentence[0].toUpperCase() + sentence.slice(1),
    soundStartMs: crop[0],
    soundEndMs: crop[1],
    soundInsertMs: insertMs,
    canApply: true,
  };
}

function cannotFix(sentence) {
  return { sentence: sentence, soundStartMs: null, soundEndMs: null, soundInsertMs: null, canApply: false };
}

// The crop inside the audio, `shortest` to `longest` long, that moves its edges least: a short
// crop grows at its end, or at its start where the audio ends first; a long one is cut at its end.
function nearestCrop(startMs, endMs, audioMs, shortest, longest) {
  let start = Math.max(startMs, 0);
  let end = Math.min(endMs, audioMs);
  if (end - start < shortest) {
    end = Math.min(Math.max(end, start + shortest), audioMs);
    start = Math.max(Math.min(start, end - shortest), 0);
  }
  if (end - start > longest) end = start + longest;
  return [start, end];
}

export function checkVolume(field, value, limits) {
  const low = 0;
  const high = withDefaults(limits).volume_max;
  if (typeof value !== "number" || Number.isNaN(value)) {
    return [violation(MISSING_OR_INVALID, field,
      field + " must be a number from " + formatG(low) + " to " + formatG(high) + ".")];
  }
  if (value < low || value > high) {
    return illegal(
      field,
      field + " must be between " + formatG(low) + " and " + formatG(high) + "; it is " +
        formatG(value) + ".",
      "Use " + formatG(Math.min(Math.max(value, low), high)) + " instead."
    );
  }
  return [];
}

function isWholeMs(value) {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

// The form's own words for what has not been chosen or typed yet (rules.py checks a request,
// which always has every field; the page can be half filled).
const TIME_FIELDS = [
  ["soundStartMs", "sound_start", "the crop start"],
  ["soundEndMs", "sound_end", "the crop end"],
  ["soundInsertMs", "sound_insert", "the insert time"],
];

function checkChoicesMade(state) {
  const found = [];
  if (state.faceStartMs == null || state.faceEndMs == null) {
    found.push(violation(MISSING_OR_INVALID, "face_id",
      "Pick the face that should speak.", "Choose one of the faces found in the video."));
  }
  if (state.audioMs == null) {
    found.push(violation(MISSING_OR_INVALID, "sound_file",
      "Choose the audio clip to use.", "Pick one in the “Audio clip” list."));
  }
  TIME_FIELDS.forEach(function (entry) {
    if (!isWholeMs(state[entry[0]])) {
      found.push(violation(MISSING_OR_INVALID, entry[1],
        "Type " + entry[2] + " in seconds, for example 1.5."));
    }
  });
  return found;
}

/**
 * All rules for the editor's state, first the missing choices, then the timing, then volumes.
 * state: {videoMs, audioMs, faceStartMs, faceEndMs, soundStartMs, soundEndMs, soundInsertMs,
 *         soundVolume, originalVolume}; null/undefined where not chosen yet.
 */
export function checkTimeline(state, limits) {
  const missing = checkChoicesMade(state);
  const timing = missing.length ? [] : checkAdvancedTiming(state, limits);
  return missing
    .concat(timing)
    .concat(checkVolume("sound_volume", state.soundVolume, limits))
    .concat(checkVolume("original_audio_volume", state.originalVolume, limits));
}

/** "Do it for me" for the editor's state: null while a choice is missing or no rule is broken. */
export function suggestTimelineFix(state, limits) {
  if (checkChoicesMade(state).length) return null;
  return suggestTimingFix(state, limits);
}
