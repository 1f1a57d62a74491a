/* Progressive enhancement of the community pages; every page works without this script.
   - A textarea[data-counter=N] (the compose form) shows how many characters are left, counted as
     the server counts them near enough (a link counts 23, a remote mention only its @user part).
   - A [data-new-posts] marker (the newest page of a timeline) asks /timelines/new every 30 s how
     many posts came since, and offers a link that shows them (an aria-live region reads it out).
   - The header's Notifications link (a[data-unread], people signed in) keeps its unread count up to
     date: /notifications/unread every 60 s and when the window gets the focus. */
(function () {
  "use strict";

  var URL_RE = /https?:\/\/[^\s<>"]+/g;
  var REMOTE_MENTION_RE = /(^|[^\w\/=])@(\w[\w.-]*)@[\w.-]+\w/g;

  function length(text) {
    var counted = text.replace(/\r\n?/g, "\n").replace(/\s+$/, "");
    counted = counted.replace(URL_RE, "xxxxxxxxxxxxxxxxxxxxxxx");
    counted = counted.replace(REMOTE_MENTION_RE, function (m, before, user) { return before + "@" + user; });
    return Array.from(counted).length;
  }

  function enhanceCounter(area) {
    var limit = parseInt(area.getAttribute("data-counter"), 10);
    var output = document.getElementById(area.id + "-count");
    if (!limit || !output) return;
    var timer = null;
    function update() {
      var left = limit - length(area.value);
      output.textContent = left >= 0 ? left + (left === 1 ? " character left" : " characters left")
        : (-left) + (left === -1 ? " character too many" : " characters too many");
      output.classList.toggle("over", left < 0);
    }
    area.addEventListener("input", function () {
      // Screen readers hear the count once typing pauses, not at every key.
      clearTimeout(timer);
      timer = setTimeout(update, 400);
    });
    update();
  }

  function watchTimeline(marker) {
    var feed = marker.getAttribute("data-feed");
    var since = marker.getAttribute("data-since");
    if (!feed || !since || since === "0" && feed !== "home") return;
    var shown = 0;
    function check() {
      if (document.hidden) return;
      var url = "/timelines/new?feed=" + encodeURIComponent(feed) + "&since_id=" + encodeURIComponent(since);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data || !data.count || data.count === shown) return;
          shown = data.count;
          var label = (data.more ? data.count + "+" : data.count) + (data.count === 1 ? " new post" : " new posts");
          marker.textContent = "";
          var link = document.createElement("a");
          link.href = window.location.pathname + window.location.search;
          link.className = "button-quiet";
          link.textContent = "Show " + label;
          marker.appendChild(link);
        })
        .catch(function () { /* offline: try again later */ });
    }
    setInterval(check, 30000);
    document.addEventListener("visibilitychange", check);
    window.addEventListener("focus", check);
  }

  function watchUnread(link) {
    function show(count) {
      var badge = link.querySelector(".unread-count");
      if (!count) {
        if (badge) badge.remove();
        return;
      }
      if (!badge) {
        badge = document.createElement("span");
        badge.className = "badge unread-count";
        link.appendChild(document.createTextNode(" "));
        link.appendChild(badge);
      }
      badge.textContent = String(count);
      var hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = " unread";
      badge.appendChild(hidden);
    }
    function check() {
      if (document.hidden) return;
      fetch("/notifications/unread", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) { if (data && typeof data.count === "number") show(data.count); })
        .catch(function () { /* offline: try again later */ });
    }
    setInterval(check, 60000);
    window.addEventListener("focus", check);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("a[data-unread]").forEach(watchUnread);
    document.querySelectorAll("textarea[data-counter]").forEach(enhanceCounter);
    document.querySelectorAll("[data-new-posts]").forEach(watchTimeline);
  });
})();
