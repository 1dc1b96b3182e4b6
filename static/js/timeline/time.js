// Times and numbers as the timeline editor shows them. All times are whole milliseconds; only
// the form's fields speak seconds ("1.250"), the screen shows timecodes ("0:03.2"), and the
// video track places things in % of the video's length.

export function clamp(value, low, high) {
  return Math.min(Math.max(value, low), high);
}

// A time as people type it, as the server's forms.SECONDS_TEXT: "5.5", "5,5" (a decimal comma),
// "5", ".5". Digit grouping ("1,234.5") and units ("5 s") do not match: they are not guessed at.
const SECONDS_TEXT = /^(\d+([.,]\d*)?|[.,]\d+)$/;

/** A field's text in seconds ("1.5", "1,5") as whole ms; null when empty or not a plain time. */
export function secondsTextToMs(text) {
  const cleaned = String(text || "").trim();
  if (!SECONDS_TEXT.test(cleaned)) return null;
  return Math.round(Number(cleaned.replace(",", ".")) * 1000);
}

export function msToSecondsText(ms) {
  return (ms / 1000).toFixed(3);
}

/** A position as the server's `timecode` filter writes it: 3200 -> "0:03.2". */
export function timecode(ms) {
  const safe = Math.max(0, Math.round(ms));
  const minutes = Math.floor(safe / 60000);
  const rest = safe % 60000;
  const secs = String(Math.floor(rest / 1000)).padStart(2, "0");
  return minutes + ":" + secs + "." + Math.floor((rest % 1000) / 100);
}

export function tickLabel(ms, withTenths) {
  const text = timecode(ms);
  return withTenths ? text : text.slice(0, -2);
}

export function percentOf(ms, totalMs) {
  return (totalMs > 0 ? (ms / totalMs) * 100 : 0) + "%";
}

export function formatVolume(value) {
  return Number(value).toFixed(2).replace(/0$/, "");
}
