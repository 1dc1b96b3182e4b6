// Small behaviours on top of htmx: drag-and-drop uploads with a progress bar and size check.
(function () {
  "use strict";

  // htmx fires htmx:load for the body when it starts, after DOMContentLoaded has run init once,
  // and again for each swapped fragment: each behaviour is bound to an element once only.
  const bound = new WeakMap();
  function firstTime(element, behaviour) {
    const behaviours = bound.get(element) || new Set();
    if (behaviours.has(behaviour)) return false;
    behaviours.add(behaviour);
    bound.set(element, behaviours);
    return true;
  }

  function formatMegabytes(bytes) {
    return (bytes / (1024 * 1024)).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0) + " MB";
  }

  function showUploadError(form, message) {
    const result = form.querySelector(".upload-result");
    result.innerHTML = "";
    const notice = document.createElement("p");
    notice.className = "notice notice-error";
    notice.setAttribute("role", "alert");
    notice.textContent = message;
    result.appendChild(notice);
  }

  function tooLarge(form) {
    const input = form.querySelector("input[type=file]");
    const limit = Number(form.dataset.maxBytes || 0);
    const file = input.files && input.files[0];
    if (file && limit && file.size > limit) {
      showUploadError(form, "This file is " + formatMegabytes(file.size) + "; we accept at most " +
        formatMegabytes(limit) + ". Export a shorter or smaller version and try again.");
      return true;
    }
    return false;
  }

  function wireUpload(form) {
    const input = form.querySelector("input[type=file]");
    const target = form.querySelector(".drop-target");
    const progress = form.querySelector("progress");
    ["dragenter", "dragover"].forEach(function (name) {
      target.addEventListener(name, function (event) {
        event.preventDefault();
        target.classList.add("dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      target.addEventListener(name, function () { target.classList.remove("dragging"); });
    });
    target.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        input.dispatchEvent(new Event("change"));
      }
    });
    input.addEventListener("change", function () {
      const file = input.files && input.files[0];
      target.querySelector("span").textContent = file ? file.name : target.dataset.prompt;
      if (!tooLarge(form)) form.querySelector(".upload-result").innerHTML = "";
    });
    target.dataset.prompt = target.querySelector("span").textContent;
    form.addEventListener("htmx:confirm", function (event) {
      if (tooLarge(form)) event.preventDefault();
    });
    form.addEventListener("htmx:beforeRequest", function () {
      progress.hidden = false;
      progress.value = 0;
      form.querySelector("button[type=submit]").disabled = true;
    });
    form.addEventListener("htmx:xhr:progress", function (event) {
      if (event.detail.lengthComputable) {
        progress.value = Math.round((event.detail.loaded / event.detail.total) * 100);
      }
    });
    form.addEventListener("htmx:afterRequest", function (event) {
      form.querySelector("button[type=submit]").disabled = false;
      if (!event.detail.successful && !event.detail.xhr.status) {
        progress.hidden = true;
        showUploadError(form, "The upload was stopped. If the file is larger than the limit above, " +
          "export a smaller version; otherwise check your connection and try again.");
      }
    });
  }

  // An htmx request that failed: form errors (400 …) are swapped into their form by htmx (see
  // the htmx-config in base.html); anything else leaves the page as it was and says so calmly,
  // in the error area of the form that asked (data-request-errors), or at the top of the page.
  const REQUEST_PROBLEMS = {
    403: "Your role in this project does not allow that. Ask the project's owner if you need it.",
    404: "That is no longer here; it may have been deleted. Reload the page to see what there is now.",
    server: "Something went wrong on our side. Try again in a moment; if it happens again, " +
      "tell your administrator.",
    other: "That did not work. Reload the page and try again.",
    offline: "We could not reach the server. Check your connection and try again.",
  };

  function requestProblem(status) {
    if (!status) return REQUEST_PROBLEMS.offline;
    if (status >= 500) return REQUEST_PROBLEMS.server;
    return REQUEST_PROBLEMS[status] || REQUEST_PROBLEMS.other;
  }

  function errorAreaFor(element) {
    const scope = element && element.closest("form, [data-request-errors-scope]");
    const area = scope && scope.querySelector("[data-request-errors]");
    return area || document.getElementById("messages");
  }

  function showRequestProblem(event) {
    const element = event.detail.elt;
    const status = event.detail.xhr ? event.detail.xhr.status : 0;
    // An upload that was cut off has its own words (the size limit is the usual cause).
    if (!status && element && element.matches("form[data-upload]")) return;
    const area = errorAreaFor(element);
    const notice = document.createElement("p");
    notice.className = "notice notice-error";
    notice.setAttribute("role", "alert");
    notice.textContent = requestProblem(status);
    area.replaceChildren(notice);
    area.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("htmx:responseError", showRequestProblem);
  document.addEventListener("htmx:sendError", showRequestProblem);

  // Hovering a face card marks its window on the timeline (timeline.js listens).
  function wireFaceHover(root) {
    root.querySelectorAll(".face-card[data-face-id]").forEach(function (card) {
      if (!firstTime(card, "face-hover")) return;
      const detail = {
        id: Number(card.dataset.faceId),
        start_ms: Number(card.dataset.startMs),
        end_ms: Number(card.dataset.endMs),
      };
      ["mouseenter", "focus"].forEach(function (name) {
        card.addEventListener(name, function () {
          document.body.dispatchEvent(new CustomEvent("faceHover", { detail: detail }));
        });
      });
      ["mouseleave", "blur"].forEach(function (name) {
        card.addEventListener(name, function () {
          document.body.dispatchEvent(new CustomEvent("faceHoverEnd", { detail: detail }));
        });
      });
    });
  }

  // "120 characters left" under text boxes with data-counter.
  function wireCounters(root) {
    root.querySelectorAll("[data-counter-for]").forEach(function (counter) {
      const field = document.getElementById(counter.dataset.counterFor);
      if (!field || !firstTime(counter, "counter")) return;
      const limit = Number(field.getAttribute("maxlength") || 120);
      const update = function () {
        const left = limit - field.value.length;
        counter.textContent = left + " of " + limit + " characters left";
      };
      field.addEventListener("input", update);
      update();
    });
  }

  // "Hear this voice": the sample is recorded by a worker the first time, so retry briefly.
  function wireVoiceSamples(root) {
    root.querySelectorAll("[data-voice-sample-for]").forEach(function (button) {
      if (!firstTime(button, "voice-sample")) return;
      // A voice speaks its own language(s): choosing it picks one of them.
      const picker = document.getElementById(button.dataset.voiceSampleFor);
      const languagePicker = document.getElementById(button.dataset.languageFor);
      if (picker && languagePicker) {
        picker.addEventListener("change", function () {
          const option = picker.selectedOptions[0];
          const spoken = option && option.dataset.languages ? option.dataset.languages.split(" ") : [];
          if (spoken.length && spoken.indexOf(languagePicker.value) < 0) languagePicker.value = spoken[0];
        });
      }
      button.addEventListener("click", function () {
        const voice = document.getElementById(button.dataset.voiceSampleFor).value;
        const languageField = document.getElementById(button.dataset.languageFor);
        const language = languageField ? languageField.value : "en";
        const url = button.dataset.url + "?voice=" + encodeURIComponent(voice) + "&lang=" + language;
        let tries = 0;
        button.disabled = true;
        const attempt = function () {
          fetch(url, { credentials: "same-origin" }).then(function (response) {
            if (response.status === 503 && tries++ < 20) {
              setTimeout(attempt, 500);
              return;
            }
            button.disabled = false;
            if (!response.ok) return;
            return response.blob().then(function (blob) {
              new Audio(URL.createObjectURL(blob)).play();
            });
          }).catch(function () { button.disabled = false; });
        };
        attempt();
      });
    });
  }

  // Microphone recording where the browser allows it; the clip is uploaded like a file.
  function wireRecorder(root) {
    root.querySelectorAll("[data-recorder]").forEach(function (box) {
      if (!firstTime(box, "recorder")) return;
      const start = box.querySelector("[data-record-start]");
      const stop = box.querySelector("[data-record-stop]");
      const time = box.querySelector("[data-record-time]");
      if (!navigator.mediaDevices || !window.MediaRecorder) {
        box.querySelector(".recorder-unsupported").hidden = false;
        start.disabled = true;
        return;
      }
      let recorder = null;
      let chunks = [];
      let began = 0;
      let ticker = null;
      start.addEventListener("click", function () {
        navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
          chunks = [];
          recorder = new MediaRecorder(stream);
          recorder.ondataavailable = function (event) { chunks.push(event.data); };
          recorder.onstop = function () {
            stream.getTracks().forEach(function (track) { track.stop(); });
            clearInterval(ticker);
            const blob = new Blob(chunks, { type: recorder.mimeType });
            const form = new FormData();
            const extension = recorder.mimeType.indexOf("ogg") >= 0 ? "ogg" : "webm";
            form.append("file", blob, "recording." + extension);
            form.append("source", "recording");
            // From a video's page the new clip is followed there (the answer redirects back).
            if (box.dataset.next) form.append("next", box.dataset.next);
            time.textContent = "Uploading…";
            fetch(box.dataset.uploadUrl, {
              method: "POST",
              body: form,
              credentials: "same-origin",
              headers: { "X-CSRFToken": document.querySelector("[name=csrfmiddlewaretoken]").value },
            }).then(function (response) { window.location.assign(response.url); });
          };
          recorder.start();
          began = Date.now();
          ticker = setInterval(function () {
            const seconds = Math.round((Date.now() - began) / 100) / 10;
            time.textContent = seconds.toFixed(1) + " s";
            if (seconds >= 60) recorder.stop();
          }, 100);
          start.disabled = true;
          stop.disabled = false;
        }).catch(function () {
          box.querySelector(".recorder-unsupported").hidden = false;
        });
      });
      stop.addEventListener("click", function () {
        stop.disabled = true;
        start.disabled = false;
        if (recorder && recorder.state !== "inactive") recorder.stop();
      });
    });
  }

  // Quick mode: show the fields of the chosen speech source only (both show without scripts).
  function wireModeSwitch(root) {
    root.querySelectorAll("[data-mode-switch]").forEach(function (switcher) {
      if (!firstTime(switcher, "mode-switch")) return;
      const form = switcher.closest("form");
      const update = function () {
        const chosen = switcher.querySelector("input:checked");
        form.querySelectorAll("[data-mode-part]").forEach(function (part) {
          part.hidden = chosen && part.dataset.modePart !== chosen.value;
        });
      };
      switcher.addEventListener("change", update);
      update();
    });
  }

  function init(root) {
    wireModeSwitch(root);
    wireFaceHover(root);
    wireCounters(root);
    wireVoiceSamples(root);
    wireRecorder(root);
    root.querySelectorAll("form[data-upload]").forEach(function (form) {
      if (firstTime(form, "upload")) wireUpload(form);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });
})();
