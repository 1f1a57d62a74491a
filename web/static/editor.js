/* Progressive enhancement of the unit editor: "Preview" fills the panel in place instead of
   reloading the page. Without this script the button posts the form and the page comes back
   with the preview below it. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector("button[data-preview]");
    var form = button && button.form;
    var panel = document.getElementById("unit-preview");
    if (!form || !panel || !window.fetch) return;
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      data.set("fragment", "1");
      fetch(form.dataset.previewUrl, { method: "POST", body: data, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error("preview failed: " + response.status);
          return response.text();
        })
        .then(function (html) {
          panel.outerHTML = html;
          panel = document.getElementById("unit-preview");
        })
        .catch(function () { form.requestSubmit(button); });
    });
  });
})();
