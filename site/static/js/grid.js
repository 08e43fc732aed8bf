// The comparison grid: live cost while ticking modifiers, and the result page's polling.
// Both pages work without it (the form has an "Update choices" button; the result page
// can be reloaded).
(function () {
  "use strict";

  // -- the form ---------------------------------------------------------------------------
  var form = document.querySelector("[data-grid-form]");
  if (form) {
    var cost = form.querySelector("[data-cost]");
    var max = parseInt(cost.getAttribute("data-max"), 10);
    var balanceAttr = cost.getAttribute("data-balance");
    var balance = balanceAttr === null ? null : parseInt(balanceAttr, 10);
    var run = form.querySelector("[data-run]");
    var warn = form.querySelector("[data-cost-warn]");
    var ySelect = form.querySelector("#grid-y");

    var count = function (axis) {
      return form.querySelectorAll("[data-axis=" + axis + "] input[type=checkbox]:checked").length;
    };
    var update = function () {
      var x = count("x");
      var cells = ySelect && ySelect.value && form.querySelector("[data-axis=y] input[type=checkbox]") ? x * count("y") : x;
      cost.querySelector("[data-cells]").textContent = cells;
      cost.querySelector("[data-credits-needed]").textContent = cells;
      var problem = "";
      if (cells > max) problem = "A grid can have at most " + max + " cells; this one has " + cells + ".";
      else if (cells === 0) problem = "Tick at least one modifier" + (ySelect && ySelect.value ? " on each axis." : ".");
      else if (balance !== null && cells > balance) problem = "Not enough credits: this grid needs " + cells + " and your balance is " + balance + ".";
      warn.textContent = problem;
      warn.hidden = !problem;
      if (run) run.disabled = !!problem;
    };
    form.addEventListener("change", function (event) {
      var target = event.target;
      if (target.matches("[data-category-select]")) {
        // A new category brings its own modifiers: reload the form with it.
        form.querySelector("[data-update]").click();
        return;
      }
      update();
    });
    form.querySelectorAll("[data-pick-tools]").forEach(function (tools) {
      tools.hidden = false;
      tools.addEventListener("click", function (event) {
        var how = event.target.getAttribute("data-pick");
        if (!how) return;
        tools.closest("[data-axis]").querySelectorAll("input[type=checkbox]").forEach(function (box) {
          box.checked = how === "all" || (how === "known" && box.hasAttribute("data-known"));
        });
        update();
      });
    });
    update();
  }

  // -- the result ------------------------------------------------------------------------
  var status = document.querySelector("[data-grid]");
  if (status && status.getAttribute("data-finished") === "0" && window.fetch) {
    var url = status.getAttribute("data-status-url");
    var poll = function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (grid) {
          if (grid.finished) { window.location.reload(); return; }
          (grid.cells || []).forEach(function (cell) {
            var box = document.querySelector(".grid-cell[data-job='" + cell.job + "']");
            if (!box || box.getAttribute("data-state") === cell.state) return;
            box.setAttribute("data-state", cell.state);
            box.className = "grid-cell state-cell-" + cell.state;
            if (cell.image) {
              var link = document.createElement("a");
              link.href = "/i/" + cell.image.id;
              var img = document.createElement("img");
              img.src = cell.image.url;
              img.alt = "";
              link.appendChild(img);
              box.replaceChildren(link);
            } else {
              var label = document.createElement("span");
              label.className = "grid-cell-state";
              label.textContent = cell.state.charAt(0).toUpperCase() + cell.state.slice(1);
              box.replaceChildren(label);
            }
          });
          setTimeout(poll, 2000);
        })
        .catch(function () { setTimeout(poll, 5000); });
    };
    setTimeout(poll, 1500);
  }
})();
