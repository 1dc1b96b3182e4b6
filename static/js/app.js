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

  function init(root) {
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
