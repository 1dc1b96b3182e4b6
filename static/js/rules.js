// The Kling contract's timeline rules for the browser, as pure functions (no DOM).
//
// They mirror projects/engines/rules.py word for word, so a person reads the same sentence while
// dragging as the server would answer after posting. Each check returns a list of violations
// (empty when fine): {code, field, message, fix, text, suggestion}. `field` is the contract's
// name (e.g. "sound_insert_time"); `suggestion` ({field, ms}, in form-field names) is the value
// the fix sentence proposes, so the editor can offer to apply it. Times are whole milliseconds.
(function (root, factory) {
  "use strict";
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.LipsyncRules = api;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  const MISSING_OR_INVALID = 1200;
  const ILLEGAL_VALUE = 1201;

  // The same numbers as projects/engines/limits.py; the page sends its own copy (`rules`),
  // which wins, so the server stays the one source of truth.
  const DEFAULT_LIMITS = Object.freeze({
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
  function seconds(ms) {
    const value = (ms / 1000).toFixed(3).replace(/0+$/, "").replace(/\.$/, "");
    return (value === "-0" ? "0" : value) + " s";
  }

  /** A number as Python's "{:g}" writes it for the values used here (volumes): 1.5 -> "1.5". */
  function formatG(value) {
    return String(Number(Number(value).toPrecision(6)));
  }

  function violation(code, field, message, fix, suggestion) {
    return {
      code: code,
      field: field,
      message: message,
      fix: fix || "",
      text: (message + " " + (fix || "")).trim(),
      suggestion: suggestion || null,
    };
  }

  function illegal(field, message, fix, suggestion) {
    return [violation(ILLEGAL_VALUE, field, message, fix, suggestion)];
  }

  function overlapMs(startA, endA, startB, endB) {
    return Math.max(0, Math.min(endA, endB) - Math.max(startA, startB));
  }

  /** The cropped clip lasts at least 2 s and ends within the audio. */
  function checkCrop(args, limits) {
    const minCrop = withDefaults(limits).min_crop_ms;
    const found = [];
    const clipMs = args.soundEndMs - args.soundStartMs;
    if (clipMs < minCrop) {
      found.push(
        ...illegal(
          "sound_end_time",
          "The audio clip must last at least " + seconds(minCrop) + "; " +
            "it lasts " + seconds(Math.max(clipMs, 0)) + ".",
          "End it at " + seconds(args.soundStartMs + minCrop) + " or later.",
          { field: "sound_end", ms: args.soundStartMs + minCrop }
        )
      );
    }
    if (args.soundEndMs > args.audioMs) {
      found.push(
        ...illegal(
          "sound_end_time",
          "The clip ends at " + seconds(args.soundEndMs) + ", after the audio's end " +
            "(" + seconds(args.audioMs) + ").",
          "End it at " + seconds(args.audioMs) + " or earlier.",
          { field: "sound_end", ms: args.audioMs }
        )
      );
    }
    return found;
  }

  /** The inserted range [insert, insert + clip] lies inside the video. */
  function checkInsertInsideVideo(args) {
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
      fix,
      latest < 0 ? null : { field: "sound_insert", ms: latest }
    );
  }

  /** The inserted clip overlaps the face's window by at least 2 s; suggest the smallest move. */
  function checkFaceOverlap(args, limits) {
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
      "Move it " + seconds(Math.abs(shift)) + " " + direction + ".",
      { field: "sound_insert", ms: target }
    );
  }

  /** Every timeline rule of an advanced lip-sync, in the order a person would fix them. */
  function checkAdvancedTiming(args, limits) {
    const found = checkCrop(args, limits);
    if (found.length) {
      // Placement rules depend on the clip's length: judge them once the crop is right.
      return found;
    }
    const clipMs = args.soundEndMs - args.soundStartMs;
    const placed = Object.assign({}, args, { clipMs: clipMs });
    return checkInsertInsideVideo(placed).concat(checkFaceOverlap(placed, limits));
  }

  function checkVolume(field, value, limits) {
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
  function checkTimeline(state, limits) {
    const missing = checkChoicesMade(state);
    const timing = missing.length ? [] : checkAdvancedTiming(state, limits);
    return missing
      .concat(timing)
      .concat(checkVolume("sound_volume", state.soundVolume, limits))
      .concat(checkVolume("original_audio_volume", state.originalVolume, limits));
  }

  return Object.freeze({
    MISSING_OR_INVALID: MISSING_OR_INVALID,
    ILLEGAL_VALUE: ILLEGAL_VALUE,
    DEFAULT_LIMITS: DEFAULT_LIMITS,
    seconds: seconds,
    formatG: formatG,
    overlapMs: overlapMs,
    checkCrop: checkCrop,
    checkInsertInsideVideo: checkInsertInsideVideo,
    checkFaceOverlap: checkFaceOverlap,
    checkAdvancedTiming: checkAdvancedTiming,
    checkVolume: checkVolume,
    checkTimeline: checkTimeline,
  });
});
