/* Progressive enhancement of the signup form: preselect the browser's time zone.
   Without this script the <select> still lists every IANA zone and defaults to UTC. */
(function () {
  "use strict";
  function detect() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      return "";
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var zone = detect();
    if (!zone) return;
    document.querySelectorAll("select[data-detect-timezone]").forEach(function (select) {
      var option = Array.prototype.find.call(select.options, function (o) { return o.value === zone; });
      if (!option) return;
      // Only replace the untouched default: a zone the learner picked (or sent back with errors) stays.
      if (select.value === "UTC" && !select.dataset.touched) select.value = zone;
      select.addEventListener("change", function () { select.dataset.touched = "1"; });
      var hint = select.closest(".field") && select.closest(".field").querySelector(".tz-detected");
      if (hint) {
        hint.querySelector("strong").textContent = zone.replace(/_/g, " ");
        hint.hidden = false;
      }
    });
  });
})();
