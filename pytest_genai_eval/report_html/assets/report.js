(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.row"));
  var onlyFailures = document.getElementById("only-failures");
  var onlyChanged = document.getElementById("only-changed");
  var search = document.getElementById("row-search");
  var shown = document.getElementById("shown-count");
  var empty = document.getElementById("no-rows-shown");
  function apply() {
    var query = search ? search.value.trim().toLowerCase() : "";
    var count = 0;
    rows.forEach(function (tr) {
      var status = tr.getAttribute("data-status");
      var show = true;
      if (onlyFailures && onlyFailures.checked && status !== "fail" && status !== "error") {
        show = false;
      }
      if (show && onlyChanged && onlyChanged.checked && !tr.getAttribute("data-change")) {
        show = false;
      }
      if (show && query && tr.textContent.toLowerCase().indexOf(query) === -1) {
        show = false;
      }
      tr.hidden = !show;
      if (show) { count += 1; }
    });
    if (shown) { shown.textContent = String(count); }
    if (empty) { empty.hidden = count !== 0; }
  }
  if (onlyFailures) {
    if (window.location.hash === "#failures") { onlyFailures.checked = true; }
    onlyFailures.addEventListener("change", apply);
  }
  if (onlyChanged) { onlyChanged.addEventListener("change", apply); }
  if (search) { search.addEventListener("input", apply); }
  apply();
})();
