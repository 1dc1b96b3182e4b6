// The keyboard on a video's face cards, which htmx swaps: a focused element swapped out
// leaves the focus on nothing. After picking a face the focus goes to the chosen card; after
// starting a face search (the cards become a status line, which is announced) to the
// section's heading. When the search ends, the page reloads to show the timeline too, and the
// focus comes back to the chosen card (or the first) instead of the top of the page.

const RETURN_KEY = "lipsync.faceCardFocus";

function focusChosenCard() {
  const card = document.querySelector("#faces .face-card[aria-pressed=true]") ||
    document.querySelector("#faces .face-card");
  if (card) card.focus();
  return Boolean(card);
}

// Whether the keyboard was on the cards when a swap of them was asked for or arrived. Noted
// at the request too: a second pick made before the first one's answer arrived must not lose
// the keyboard because one of the swaps found it on a card that was already replaced.
let focusWasOnFaces = false;
let picksUnderWay = 0;

function focusIsOnFaces() {
  const faces = document.getElementById("faces");
  return Boolean(faces && faces.contains(document.activeElement));
}

document.addEventListener("htmx:beforeRequest", function (event) {
  const faces = document.getElementById("faces");
  if (!faces || !faces.contains(event.detail.elt)) return;
  picksUnderWay += 1;
  if (focusIsOnFaces()) focusWasOnFaces = true;
});

document.addEventListener("htmx:afterRequest", function (event) {
  if (event.detail.elt.closest && event.detail.elt.closest("#faces")) {
    picksUnderWay = Math.max(0, picksUnderWay - 1);
  }
});

document.addEventListener("htmx:beforeSwap", function (event) {
  const faces = document.getElementById("faces");
  if (faces && event.detail.target === faces && focusIsOnFaces()) focusWasOnFaces = true;
});

document.addEventListener("htmx:afterSettle", function () {
  if (!focusWasOnFaces) return;
  if (picksUnderWay === 0) focusWasOnFaces = false;
  const focused = document.activeElement;
  if (focused && focused !== document.body && focused.isConnected) return; // htmx put it back
  if (!focusChosenCard()) document.getElementById("faces-heading").focus();
});

// The search's last poll answers "reload" (HX-Refresh): come back to the cards afterwards.
document.addEventListener("htmx:beforeOnLoad", function (event) {
  const source = event.detail.elt;
  if (source && source.id === "faces" && event.detail.xhr.getResponseHeader("HX-Refresh") === "true") {
    sessionStorage.setItem(RETURN_KEY, location.pathname);
  }
});

if (sessionStorage.getItem(RETURN_KEY) === location.pathname) {
  sessionStorage.removeItem(RETURN_KEY);
  focusChosenCard();
}
