/* HEP web app: small enhancements on top of pages that work without JavaScript.
   - [data-live-search]: search as you type (fetches the results fragment, replaces the target).
   - form[data-confirm]: asks before a destructive action.
   - [data-print]: prints the page. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function liveSearch(input) {
    var target = document.getElementById(input.dataset.target);
    var form = input.dataset.form ? document.getElementById(input.dataset.form) : null;
    var controls = form ? Array.prototype.slice.call(form.elements) : ["condition", "region", "category"]
      .map(function (name) { return input.form && input.form.elements[name]; })
      .filter(Boolean);
    var latest = 0;

    function query() {
      var params = new URLSearchParams();
      if (form) {
        new FormData(form).forEach(function (value, key) { if (value !== "") params.append(key, value); });
      } else {
        params.set("q", input.value);
        controls.forEach(function (el) { if (el.value) params.set(el.name, el.value); });
        params.set("phases", input.dataset.phases || "1");
      }
      return params.toString();
    }

    var run = debounce(function () {
      var mine = ++latest;
      var base = input.dataset.liveSearch;
      var url = base + (base.indexOf("?") >= 0 ? "&" : "?") + query();
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) {
          if (response.redirected) { window.location.assign(response.url); return null; }
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          if (html !== null && mine === latest && target) { target.innerHTML = html; }
        })
        .catch(function () { /* offline: the Search button still works */ });
    }, 250);

    input.addEventListener("input", run);
    // Words typed before this script ran (a slow load) get their results too.
    if (input.value !== input.defaultValue) { run(); }
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); run(); }
    });
    controls.forEach(function (el) {
      if (el !== input && (el.tagName === "SELECT" || el.type === "checkbox")) { el.addEventListener("change", run); }
    });
  }

  document.querySelectorAll("[data-live-search]").forEach(liveSearch);

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  var summary = document.querySelector(".error-summary[tabindex]");
  if (summary && !document.querySelector("[autofocus]")) { summary.focus(); }
})();
