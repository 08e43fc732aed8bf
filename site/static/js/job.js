// The job page: poll the job, move the progress bar, show the results when it ends.
(function () {
  var card = document.querySelector("[data-job]");
  if (!card) return;
  var state = card.getAttribute("data-state");
  if (state !== "queued" && state !== "running") return;
  var api = card.getAttribute("data-api");
  var bar = card.querySelector(".progress-bar");
  var meter = card.querySelector(".progress");
  var text = card.querySelector(".progress-text");
  var pill = card.querySelector(".state-pill");
  var eta = card.querySelector("[data-eta]");
  var firstStep = null;

  function csrf() {
    var m = document.cookie.match(/csrftoken=([^;]+)/);
    return m ? m[1] : "";
  }

  function render(job) {
    var step = job.progress.step, total = job.progress.total || 1;
    bar.style.width = Math.round((100 * step) / total) + "%";
    meter.setAttribute("aria-valuenow", step);
    text.textContent = "step " + step + " of " + total;
    pill.textContent = job.state.charAt(0).toUpperCase() + job.state.slice(1);
    pill.className = "state-pill state-" + job.state;
    if (job.state === "running" && step > 0) {
      var now = Date.now();
      if (!firstStep) firstStep = { t: now, step: step };
      else if (step > firstStep.step) {
        var perStep = (now - firstStep.t) / (step - firstStep.step);
        eta.textContent = "about " + Math.max(1, Math.round((perStep * (total - step)) / 1000)) + " s left";
      }
    }
  }

  function poll() {
    fetch(api, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (job) {
        render(job);
        if (job.state === "queued" || job.state === "running") setTimeout(poll, 500);
        else window.location.reload();  // the server renders the results grid and actions
      })
      .catch(function () { setTimeout(poll, 2000); });
  }

  var cancel = card.querySelector("[data-cancel-form]");
  if (cancel) {
    cancel.addEventListener("submit", function (event) {
      event.preventDefault();
      fetch(api + "/cancel", { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf() } })
        .then(function () { cancel.querySelector("button").disabled = true; });
    });
  }
  setTimeout(poll, 300);
})();
