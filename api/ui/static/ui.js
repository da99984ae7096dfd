// aftersales web pages: small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // "+ add another" under a list field (e.g. one market price per metal grade).
  document.addEventListener("click", function (e) {
    var button = e.target.closest("button[data-add]");
    if (!button) return;
    var list = button.closest("fieldset");
    var inputs = list.querySelectorAll("input");
    var last = inputs[inputs.length - 1];
    var copy = last.cloneNode(false);
    copy.value = "";
    copy.id = button.dataset.add + "-" + (inputs.length + 1);
    copy.setAttribute("aria-label", (last.getAttribute("aria-label") || "").replace(/\d+$/, String(inputs.length + 1)));
    list.insertBefore(copy, button);
    copy.focus();
  });
  // A "why not …?" link: open the list it sits in and show that rule's explanation.
  function showTarget() {
    if (!location.hash) return;
    var target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (!target) return;
    for (var el = target; el; el = el.parentElement) {
      if (el.tagName === "DETAILS") el.open = true;
    }
    target.classList.add("open");
    target.scrollIntoView({block: "center"});
  }
  window.addEventListener("hashchange", showTarget);
  document.addEventListener("DOMContentLoaded", function () {
    showTarget();
  });
})();
