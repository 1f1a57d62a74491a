/* Progressive enhancement of forms; every page works without this script.
   - A form that came back with errors: its error summary takes the focus, so it is read first.
   - Time zone pickers (select[data-zone-picker], templates/_zones.html): a box that filters the list,
     and where the server only had a default to offer (data-detect-timezone), the browser's own zone
     is selected. Browsers may report an older name (Asia/Calcutta): options list those in data-aliases. */
(function () {
  "use strict";

  function browserZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      return "";
    }
  }

  function words(text) {
    return (text || "").toLowerCase().replace(/[_/()]/g, " ").replace(/\s+/g, " ").trim();
  }

  function optionFor(select, zone) {
    var options = Array.prototype.slice.call(select.options);
    var exact = options.filter(function (o) { return o.value === zone; })[0];
    return exact || options.filter(function (o) {
      return (o.getAttribute("data-aliases") || "").split(" ").indexOf(zone) >= 0;
    })[0] || null;
  }

  function showDetected(select, option) {
    var hint = document.getElementById(select.id + "-hint");
    var detected = hint && hint.querySelector(".tz-detected");
    if (!detected || !option || option.value === select.value) {
      if (detected) detected.hidden = true;
      return;
    }
    detected.querySelector("strong").textContent = option.textContent;
    detected.hidden = false;
  }

  function addFilter(select) {
    // The options as the server sent them, by group: filtering rebuilds the list from these.
    var groups = Array.prototype.map.call(select.querySelectorAll("optgroup"), function (group) {
      return { group: group, options: Array.prototype.slice.call(group.querySelectorAll("option")) };
    });
    var loose = Array.prototype.filter.call(select.options, function (o) { return o.parentNode === select; });
    var box = document.createElement("div");
    box.className = "zone-filter";
    var label = document.createElement("label");
    label.htmlFor = select.id + "-filter";
    label.textContent = "Find a time zone in the list";
    var input = document.createElement("input");
    input.type = "search";
    input.id = select.id + "-filter";
    input.autocomplete = "off";
    input.setAttribute("aria-controls", select.id);
    input.setAttribute("aria-describedby", select.id + "-count");
    var count = document.createElement("p");
    count.id = select.id + "-count";
    count.className = "hint zone-count";
    count.setAttribute("aria-live", "polite");
    box.appendChild(label);
    box.appendChild(input);
    box.appendChild(count);
    select.parentNode.insertBefore(box, select);

    input.addEventListener("input", function () {
      var query = words(input.value);
      var chosen = select.value;
      var matched = [];
      select.textContent = "";
      loose.forEach(function (o) { select.appendChild(o); });
      groups.forEach(function (entry) {
        entry.group.textContent = "";
        entry.options.forEach(function (o) {
          var hit = !query || words(o.textContent + " " + o.value + " " + (o.getAttribute("data-aliases") || "")).indexOf(query) >= 0;
          if (hit) matched.push(o);
          if (hit || o.value === chosen) entry.group.appendChild(o);  // the current choice is never lost
        });
        if (entry.group.children.length) select.appendChild(entry.group);
      });
      var keep = matched.some(function (o) { return o.value === chosen; });
      // Typing a place selects its first match, as a combobox would; the list shows the others.
      select.value = keep || !query || !matched.length ? chosen : matched[0].value;
      if (!query) count.textContent = "";
      else if (!matched.length) count.textContent = "No time zone matches; the list keeps your current choice.";
      else count.textContent = matched.length + (matched.length === 1 ? " time zone matches" : " time zones match") +
        "; selected: " + select.options[select.selectedIndex].textContent + ".";
      select.dispatchEvent(new Event("change"));
    });
  }

  function enhanceZonePicker(select) {
    if (select.getAttribute("data-enhanced")) return;
    select.setAttribute("data-enhanced", "1");
    var zone = browserZone();
    var match = zone ? optionFor(select, zone) : null;
    var untouched = select.options[select.selectedIndex] && select.options[select.selectedIndex].defaultSelected;
    if (match && select.hasAttribute("data-detect-timezone") && untouched) select.value = match.value;
    showDetected(select, match);
    select.addEventListener("change", function () { showDetected(select, match); });
    addFilter(select);
  }

  function focusErrorSummary() {
    var summary = document.querySelector(".error-summary");
    if (!summary) return;
    if (!summary.hasAttribute("tabindex")) summary.setAttribute("tabindex", "-1");
    summary.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("select[data-zone-picker]").forEach(enhanceZonePicker);
    focusErrorSummary();
  });
})();
