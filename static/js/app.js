// Small behaviours on top of htmx: drag-and-drop uploads with a progress bar and size check.
(function () {
  "use strict";

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

  // Hovering a face card marks its window on the timeline (timeline.js listens).
  function wireFaceHover(root) {
    root.querySelectorAll(".face-card[data-face-id]").forEach(function (card) {
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
      if (!field) return;
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
            time.textContent = "Uploading…";
            fetch(box.dataset.uploadUrl, {
              method: "POST",
              body: form,
              credentials: "same-origin",
              headers: { "X-CSRFToken": document.querySelector("[name=csrfmiddlewaretoken]").value },
            }).then(function () { window.location.reload(); });
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
    if (root === document) wireRecorder(root);
    root.querySelectorAll("form[data-upload]").forEach(function (form) {
      if (!form.dataset.wired) {
        form.dataset.wired = "1";
        wireUpload(form);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });
})();
