// The runs table: the compare button says how many runs are ticked and is enabled from two.
"use strict";

(function () {
  function update(form) {
    var button = document.getElementById("compare-button");
    if (!button) {
      return;
    }
    var ticked = form.querySelectorAll("input[name=ids]:checked").length;
    button.disabled = ticked < 2 || ticked > 10;
    button.textContent = ticked ? "Compare " + ticked + " selected runs" : "Compare selected runs";
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("compare-form");
    if (!form) {
      return;
    }
    form.addEventListener("change", function () {
      update(form);
    });
    update(form);
  });
})();
