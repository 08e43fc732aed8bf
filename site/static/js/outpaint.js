// The outpaint page: the image is movable inside a larger frame; its position (in the
// model's pixels) goes to POST /api/v1/jobs as canvas + left/top, or shrink for uncrop.
(function () {
  var root = document.querySelector("[data-outpaint]");
  if (!root) return;
  var frame = root.querySelector("[data-frame]");
  var piece = root.querySelector("[data-piece]");
  var select = root.querySelector("[data-frame-size]");
  var shrink = root.querySelector("[data-shrink]");
  var form = root.querySelector("[data-outpaint-form]");
  var errorBox = root.querySelector("[data-error]");
  var native = +root.getAttribute("data-native");
  var DISPLAY = 320;  // display pixels per `native` model pixels
  var pos = { left: 0, top: 0 }, size = { w: native, h: native };

  function scale() { return DISPLAY / native; }
  function layout() {
    var parts = select.value.split("x");
    size = { w: +parts[0], h: +parts[1] };
    var s = scale();
    if (shrink.checked) {
      frame.style.width = DISPLAY + "px"; frame.style.height = DISPLAY + "px";
      piece.style.width = DISPLAY * 0.6 + "px"; piece.style.left = DISPLAY * 0.2 + "px"; piece.style.top = DISPLAY * 0.2 + "px";
      return;
    }
    pos.left = Math.min(Math.max(pos.left, 0), size.w - native);
    pos.top = Math.min(Math.max(pos.top, 0), size.h - native);
    frame.style.width = size.w * s + "px"; frame.style.height = size.h * s + "px";
    piece.style.width = DISPLAY + "px";
    piece.style.left = pos.left * s + "px"; piece.style.top = pos.top * s + "px";
  }
  function place(where) {
    var maxL = size.w - native, maxT = size.h - native;
    if (where === "left") { pos.left = maxL; } else if (where === "right") { pos.left = 0; }
    else if (where === "top") { pos.top = maxT; } else if (where === "bottom") { pos.top = 0; }
    else { pos.left = Math.round(maxL / 2); pos.top = Math.round(maxT / 2); }
    layout();
  }
  // "Left" means: new picture appears on the left, so the image moves right.
  root.querySelectorAll("[data-place]").forEach(function (b) {
    b.addEventListener("click", function () { place(b.getAttribute("data-place")); });
  });
  var drag = null;
  piece.addEventListener("pointerdown", function (e) {
    if (shrink.checked) return;
    piece.setPointerCapture(e.pointerId);
    drag = { x: e.clientX, y: e.clientY, left: pos.left, top: pos.top };
  });
  piece.addEventListener("pointermove", function (e) {
    if (!drag) return;
    var s = scale();
    pos.left = Math.round(drag.left + (e.clientX - drag.x) / s);
    pos.top = Math.round(drag.top + (e.clientY - drag.y) / s);
    layout();
  });
  ["pointerup", "pointercancel"].forEach(function (t) { piece.addEventListener(t, function () { drag = null; }); });
  select.addEventListener("change", function () { place("center"); });
  shrink.addEventListener("change", function () { select.disabled = shrink.checked; layout(); });

  function csrf() { var m = document.cookie.match(/csrftoken=([^;]+)/); return m ? m[1] : ""; }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    errorBox.hidden = true;
    var body = { mode: "outpaint", source_image: +root.getAttribute("data-source"),
                 prompt: form.querySelector("textarea").value };
    if (shrink.checked) body.shrink = 0.6;
    else { body.canvas = size.w + "x" + size.h; body.left = pos.left; body.top = pos.top; }
    var button = form.querySelector("[data-submit]");
    button.disabled = true;
    fetch("/api/v1/jobs", { method: "POST", credentials: "same-origin", body: JSON.stringify(body),
                            headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() } })
      .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
      .then(function (res) {
        if (res.ok) { window.location.href = res.body.url; return; }
        errorBox.textContent = res.body.error.message; errorBox.hidden = false; button.disabled = false;
      });
  });
  place("center");
})();
