// The edit page's eraser: erased pixels become the mask (transparent = repaint),
// sent at the image's own resolution with the prompt to POST /api/v1/jobs.
(function () {
  var root = document.querySelector("[data-editor]");
  if (!root) return;
  var canvas = root.querySelector("canvas");
  var ctx = canvas.getContext("2d");
  var img = root.querySelector("[data-source-img]");
  var brush = root.querySelector("[data-brush]");
  var brushOut = root.querySelector("[data-brush-out]");
  var form = root.querySelector("[data-edit-form]");
  var errorBox = root.querySelector("[data-error]");
  var natW = +root.getAttribute("data-width"), natH = +root.getAttribute("data-height");
  var strokes = [];   // each: {size, points: [[x, y], ...]} in canvas pixels
  var current = null;

  function checker() {
    var s = 16;
    for (var y = 0; y < canvas.height; y += s)
      for (var x = 0; x < canvas.width; x += s) {
        ctx.fillStyle = ((x + y) / s) % 2 ? "#d9d4ea" : "#f4f2fa";
        ctx.fillRect(x, y, s, s);
      }
  }

  function drawStroke(target, stroke, scale) {
    target.lineCap = "round"; target.lineJoin = "round";
    target.lineWidth = stroke.size * scale;
    target.beginPath();
    stroke.points.forEach(function (p, i) {
      if (i === 0) target.moveTo(p[0] * scale, p[1] * scale); else target.lineTo(p[0] * scale, p[1] * scale);
    });
    if (stroke.points.length === 1) target.lineTo(stroke.points[0][0] * scale + 0.01, stroke.points[0][1] * scale);
    target.stroke();
  }

  function redraw() {
    // Image layer with erased strokes cut out, over a checkerboard that shows through.
    var layer = document.createElement("canvas");
    layer.width = canvas.width; layer.height = canvas.height;
    var l = layer.getContext("2d");
    l.imageSmoothingQuality = "high";
    l.drawImage(img, 0, 0, canvas.width, canvas.height);
    l.globalCompositeOperation = "destination-out";
    strokes.forEach(function (s) { drawStroke(l, s, 1); });
    checker();
    ctx.drawImage(layer, 0, 0);
  }

  function point(event) {
    var r = canvas.getBoundingClientRect();
    return [(event.clientX - r.left) * canvas.width / r.width, (event.clientY - r.top) * canvas.height / r.height];
  }

  canvas.addEventListener("pointerdown", function (e) {
    canvas.setPointerCapture(e.pointerId);
    current = { size: +brush.value, points: [point(e)] };
    strokes.push(current); redraw();
  });
  canvas.addEventListener("pointermove", function (e) {
    if (!current) return;
    current.points.push(point(e)); redraw();
  });
  ["pointerup", "pointercancel"].forEach(function (t) { canvas.addEventListener(t, function () { current = null; }); });
  brush.addEventListener("input", function () { brushOut.textContent = brush.value; });
  root.querySelector("[data-undo]").addEventListener("click", function () { strokes.pop(); redraw(); });
  root.querySelector("[data-clear]").addEventListener("click", function () { strokes = []; redraw(); });

  function maskBlob() {
    // Opaque everywhere, transparent where erased, at the image's own size.
    var m = document.createElement("canvas");
    m.width = natW; m.height = natH;
    var c = m.getContext("2d");
    c.fillStyle = "#000"; c.fillRect(0, 0, natW, natH);
    c.globalCompositeOperation = "destination-out";
    c.strokeStyle = "#000";
    var scale = natW / canvas.width;
    strokes.forEach(function (s) { drawStroke(c, s, scale); });
    return new Promise(function (resolve) { m.toBlob(resolve, "image/png"); });
  }

  function csrf() { var m = document.cookie.match(/csrftoken=([^;]+)/); return m ? m[1] : ""; }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    errorBox.hidden = true;
    if (!strokes.length) { errorBox.textContent = "Erase part of the image first."; errorBox.hidden = false; return; }
    var button = form.querySelector("[data-submit]");
    button.disabled = true;
    maskBlob().then(function (blob) {
      var data = new FormData();
      data.append("mode", "edit");
      data.append("source_image", root.getAttribute("data-source"));
      data.append("prompt", form.querySelector("textarea").value);
      data.append("mask", blob, "mask.png");
      return fetch("/api/v1/jobs", { method: "POST", body: data, credentials: "same-origin", headers: { "X-CSRFToken": csrf() } });
    }).then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (res.ok) { window.location.href = res.body.url; return; }
        errorBox.textContent = res.body.error.message; errorBox.hidden = false; button.disabled = false;
      })
      .catch(function () { errorBox.textContent = "Network error; try again."; errorBox.hidden = false; button.disabled = false; });
  });

  if (img.complete) redraw(); else img.addEventListener("load", redraw);
})();
