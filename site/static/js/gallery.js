// Gallery pages: blurhash placeholders, infinite scroll, the like button, confirmations.
// Everything works without it: the grid pages through "Load more" links, forms post.
(function () {
  "use strict";

  // -- blurhash (https://blurha.sh format), decoded into a small canvas ------------------
  var DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

  function decode83(text, start, end) {
    var value = 0;
    for (var i = start; i < end; i++) {
      var digit = DIGITS.indexOf(text.charAt(i));
      if (digit < 0) throw new Error("bad blurhash");
      value = value * 83 + digit;
    }
    return value;
  }
  function toLinear(value) {
    var v = value / 255;
    return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  }
  function toSrgb(value) {
    var v = Math.max(0, Math.min(1, value));
    return v <= 0.0031308 ? Math.round(v * 12.92 * 255 + 0.5) : Math.round((1.055 * Math.pow(v, 1 / 2.4) - 0.055) * 255 + 0.5);
  }
  function signedPow(value, exp) {
    return (value < 0 ? -1 : 1) * Math.pow(Math.abs(value), exp);
  }

  function blurhashPixels(hash, width, height) {
    var sizeFlag = decode83(hash, 0, 1);
    var numY = Math.floor(sizeFlag / 9) + 1, numX = (sizeFlag % 9) + 1;
    if (hash.length !== 4 + 2 * numX * numY) throw new Error("bad blurhash length");
    var maxValue = (decode83(hash, 1, 2) + 1) / 166;
    var colors = [];
    var dc = decode83(hash, 2, 6);
    colors.push([toLinear(dc >> 16), toLinear((dc >> 8) & 255), toLinear(dc & 255)]);
    for (var i = 1; i < numX * numY; i++) {
      var ac = decode83(hash, 4 + i * 2, 6 + i * 2);
      colors.push([
        signedPow((Math.floor(ac / 361) - 9) / 9, 2) * maxValue,
        signedPow((Math.floor(ac / 19) % 19 - 9) / 9, 2) * maxValue,
        signedPow((ac % 19 - 9) / 9, 2) * maxValue,
      ]);
    }
    var pixels = new Uint8ClampedArray(width * height * 4);
    for (var y = 0; y < height; y++) {
      for (var x = 0; x < width; x++) {
        var r = 0, g = 0, b = 0;
        for (var j = 0; j < numY; j++) {
          var cy = Math.cos(Math.PI * y * j / height);
          for (var k = 0; k < numX; k++) {
            var basis = Math.cos(Math.PI * x * k / width) * cy;
            var color = colors[k + j * numX];
            r += color[0] * basis; g += color[1] * basis; b += color[2] * basis;
          }
        }
        var p = 4 * (x + y * width);
        pixels[p] = toSrgb(r); pixels[p + 1] = toSrgb(g); pixels[p + 2] = toSrgb(b); pixels[p + 3] = 255;
      }
    }
    return pixels;
  }

  var placeholders = {};
  function placeholderUrl(hash) {
    if (placeholders[hash]) return placeholders[hash];
    var canvas = document.createElement("canvas");
    canvas.width = 24; canvas.height = 24;
    var context = canvas.getContext("2d");
    var data = context.createImageData(24, 24);
    data.data.set(blurhashPixels(hash, 24, 24));
    context.putImageData(data, 0, 0);
    placeholders[hash] = canvas.toDataURL();
    return placeholders[hash];
  }

  function paintPlaceholders(root) {
    var nodes = root.querySelectorAll("[data-blurhash]:not([data-painted])");
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      node.setAttribute("data-painted", "");
      var img = node.querySelector("img");
      if (img && img.complete && img.naturalWidth) { img.classList.add("is-loaded"); continue; }
      try {
        node.style.backgroundImage = "url(" + placeholderUrl(node.getAttribute("data-blurhash")) + ")";
      } catch (error) { /* the dominant colour behind it stays */ }
      if (img) {
        img.addEventListener("load", function () { this.classList.add("is-loaded"); });
      }
    }
  }

  // -- infinite scroll: follow the "Load more" link when it comes into view -------------
  function fragmentUrl(href) {
    var url = new URL(href, window.location.href);
    url.searchParams.set("fragment", "1");
    return url.toString();
  }

  function loadMore(link, grid) {
    if (link.getAttribute("aria-busy") === "true") return;
    link.setAttribute("aria-busy", "true");
    link.textContent = "Loading…";
    fetch(fragmentUrl(link.href), { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html;
        link.remove();
        while (holder.firstChild) grid.appendChild(holder.firstChild);
        paintPlaceholders(grid);
        watch(grid);
      })
      .catch(function () {
        link.removeAttribute("aria-busy");
        link.textContent = "Couldn't load more — try again";
      });
  }

  var observer = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (!entry.isIntersecting) return;
      observer.unobserve(entry.target);
      loadMore(entry.target, entry.target.closest("[data-grid]"));
    });
  }, { rootMargin: "600px 0px" }) : null;

  function watch(grid) {
    var link = grid.querySelector("a[data-next]");
    if (!link) return;
    link.addEventListener("click", function (event) {
      event.preventDefault();
      loadMore(link, grid);
    });
    if (observer) observer.observe(link);
  }

  // -- like button: post without leaving the page ----------------------------------------
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); return; }
    if (!form.hasAttribute("data-like")) return;
    event.preventDefault();
    var button = form.querySelector("button");
    var wanted = form.querySelector("input[name=liked]");
    button.disabled = true;
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin",
                         headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (state) {
        button.setAttribute("aria-pressed", state.liked ? "true" : "false");
        form.querySelector("[data-like-label]").textContent = state.liked ? "Liked" : "Like";
        form.querySelector("[data-like-count]").textContent = state.like_count;
        wanted.value = state.liked ? "0" : "1";
      })
      .catch(function () { form.submit(); })
      .then(function () { button.disabled = false; });
  });

  function start() {
    document.documentElement.classList.add("g-js");
    paintPlaceholders(document);
    var grids = document.querySelectorAll("[data-grid]");
    for (var i = 0; i < grids.length; i++) watch(grids[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
