// The prompt book: edit an example and re-check it live with the prompt assistant.
// The page works without this file: every example is linted on the server.
(function () {
  "use strict";
  var LINT_URL = "/api/v1/prompts/lint";

  function csrf() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var RANK = { error: 0, warning: 1, info: 2 };

  // The same split as the server's prompt_segments: cut at every finding boundary.
  function segments(prompt, findings) {
    var spans = [];
    findings.forEach(function (f, i) {
      if (f.start !== null && f.end !== null && f.start >= 0 && f.start < f.end && f.end <= prompt.length) {
        spans.push({ n: i + 1, f: f });
      }
    });
    var cuts = [0, prompt.length];
    spans.forEach(function (s) { cuts.push(s.f.start, s.f.end); });
    cuts = cuts.filter(function (v, i, a) { return a.indexOf(v) === i; }).sort(function (a, b) { return a - b; });
    var out = [];
    for (var i = 0; i + 1 < cuts.length; i++) {
      var start = cuts[i], end = cuts[i + 1];
      var covering = spans.filter(function (s) { return s.f.start <= start && end <= s.f.end; });
      out.push({ text: prompt.slice(start, end), covering: covering });
    }
    return out;
  }

  function renderPrompt(target, prompt, findings, number) {
    target.textContent = "";
    segments(prompt, findings).forEach(function (seg) {
      if (!seg.covering.length) { target.appendChild(document.createTextNode(seg.text)); return; }
      var worst = seg.covering.map(function (s) { return s.f.severity; })
        .sort(function (a, b) { return RANK[a] - RANK[b]; })[0];
      var mark = el("mark", "lint lint-" + worst, seg.text);
      mark.setAttribute("aria-describedby", seg.covering.map(function (s) {
        return "finding-" + number + "-" + s.n;
      }).join(" "));
      mark.appendChild(el("sup", "lint-ref", seg.covering.map(function (s) { return s.n; }).join(",")));
      target.appendChild(mark);
    });
  }

  function renderFindings(figure, findings, number) {
    var old = figure.querySelector("[data-findings]");
    var list;
    if (!findings.length) {
      list = el("p", "findings-none", "✓ The prompt assistant has no advice for this one.");
    } else {
      list = el("ol", "findings");
      findings.forEach(function (f, i) {
        var item = el("li", "finding");
        item.id = "finding-" + number + "-" + (i + 1);
        item.value = i + 1;
        item.appendChild(el("span", "badge sev-" + f.severity, f.severity));
        item.appendChild(document.createTextNode(" "));
        item.appendChild(el("span", "finding-message", f.message));
        if (f.suggestion) item.appendChild(el("span", "finding-suggestion", f.suggestion));
        list.appendChild(item);
      });
    }
    list.setAttribute("data-findings", "");
    if (old) old.replaceWith(list);
    else figure.querySelector(".example-actions").before(list);
  }

  function setup(figure) {
    var button = figure.querySelector("[data-edit]");
    var promptEl = figure.querySelector("[data-prompt-text]");
    var tryLink = figure.querySelector("[data-testid=try-it]");
    if (!button || !promptEl || !window.fetch) return;
    var number = (figure.id || "").replace("example-", "");
    var negative = figure.getAttribute("data-negative") || "";
    var dialect = figure.getAttribute("data-dialect") || null;
    var editor = null, status = null, timer = null, sequence = 0;
    button.hidden = false;

    function check() {
      var text = editor.value;
      var mine = ++sequence;
      status.textContent = "Checking…";
      fetch(LINT_URL, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf() },
        body: JSON.stringify({ prompt: text, negative_prompt: negative, model: "embedded", dialect: dialect }),
      })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
        .then(function (res) {
          if (mine !== sequence) return;  // a newer edit is on its way
          if (!res.ok) {
            status.textContent = (res.body.error && res.body.error.message) || "The check failed.";
            return;
          }
          renderPrompt(promptEl, text, res.body.findings, number);
          renderFindings(figure, res.body.findings, number);
          status.textContent = res.body.tokens ? res.body.tokens.count + " of " + res.body.tokens.limit + " tokens" : "";
        })
        .catch(function () { if (mine === sequence) status.textContent = "The live check is unavailable."; });
      var params = new URLSearchParams();
      params.set("prompt", text);
      if (negative) params.set("negative", negative);
      if (dialect) params.set("dialect", dialect);
      tryLink.href = "/create?" + params.toString();
    }

    button.addEventListener("click", function () {
      if (editor) { editor.focus(); return; }
      editor = el("textarea", "example-editor");
      editor.value = figure.getAttribute("data-prompt") || promptEl.textContent;
      editor.rows = 2;
      editor.setAttribute("aria-label", "Edit the example prompt");
      promptEl.after(editor);
      status = el("span", "example-status");
      status.setAttribute("aria-live", "polite");
      figure.querySelector(".example-actions").appendChild(status);
      button.textContent = "Editing — changes are checked as you type";
      button.disabled = true;
      editor.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(check, 350);
      });
      editor.focus();
    });
  }

  document.querySelectorAll("[data-example]").forEach(setup);

  // The side table of contents marks the section being read.
  var tocLinks = Array.prototype.slice.call(document.querySelectorAll(".book-toc a[href^='#']"));
  if (tocLinks.length && "IntersectionObserver" in window) {
    var byId = {};
    tocLinks.forEach(function (a) { byId[decodeURIComponent(a.getAttribute("href").slice(1))] = a; });
    // Headings crossing the top of the viewport trigger a recount: the last heading above
    // the top third of the screen is the current section.
    var observer = new IntersectionObserver(function () {
      var current = null;
      tocLinks.forEach(function (a) {
        var id = decodeURIComponent(a.getAttribute("href").slice(1));
        var heading = document.getElementById(id);
        if (heading && heading.getBoundingClientRect().top < window.innerHeight * 0.35) current = a;
      });
      tocLinks.forEach(function (a) {
        if (a === current) a.setAttribute("aria-current", "location");
        else a.removeAttribute("aria-current");
      });
    }, { rootMargin: "0px 0px -60% 0px" });
    Object.keys(byId).forEach(function (id) {
      var heading = document.getElementById(id);
      if (heading) observer.observe(heading);
    });
  }
})();
