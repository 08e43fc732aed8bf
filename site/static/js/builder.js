// The builder's live parts. The page works without this file (the Preview button asks the
// server); with it, the recipe lives here and the preview follows every change:
// chips and weights, the menu filter, a debounced call to the preview API with the linter's
// findings marked in the prompt, one-click fixes, Copy, presets and history.
(function () {
  "use strict";
  var form = document.getElementById("builder");
  if (!form) return;

  var API = "/api/v1";
  var DEBOUNCE_MS = 150;
  var HISTORY_IDLE_MS = 2500;
  var WEIGHTS = [0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2];
  var SEVERITY_RANK = { error: 0, warning: 1, info: 2 };
  var authed = form.getAttribute("data-auth") === "1";

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $$(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  // Elements from text, never from HTML: prompts are user input.
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function csrf() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function api(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    if (method !== "GET") options.headers["X-CSRFToken"] = csrf();
    return fetch(API + path, options).then(function (response) {
      if (response.status === 204) return null;
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error((data.error && data.error.message) || "Something went wrong (" + response.status + ").");
          error.code = data.error && data.error.code;
          throw error;
        }
        return data;
      });
    });
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  // -- the recipe ----------------------------------------------------------------------------

  var subjectInput = $("[data-subject]", form);
  var negativeInput = $("[data-negative]", form);
  var chosenList = $("[data-chosen]", form);
  var params = {};
  $$("[data-param]", form).forEach(function (input) { params[input.getAttribute("data-param")] = input; });
  var keepSeed = $("[data-keep-seed]");
  var remixInput = $('input[name="remix_of"]', form);

  var entries = {};  // slug → {li, input, name, group}
  $$(".mod", form).forEach(function (li) {
    var input = $(".mod-input", li);
    // The chips carry the chosen modifiers from now on; the checkboxes only show them.
    input.removeAttribute("name");
    input.disabled = false;
    entries[li.getAttribute("data-slug")] = { li: li, input: input, name: li.getAttribute("data-name"),
      group: li.closest(".menu-group") };
  });

  function parseChoice(text) {
    var parts = String(text).split(":");
    var weight = parts.length > 1 ? parseFloat(parts[1]) : 1;
    return { slug: parts[0], weight: isFinite(weight) && weight > 0 ? weight : 1 };
  }

  function formatWeight(weight) {
    return String(Math.round(weight * 100) / 100);
  }

  var initial = JSON.parse($("#builder-state").textContent || "{}");
  var state = {
    modifiers: (initial.modifiers || []).map(parseChoice).filter(function (c) { return entries[c.slug]; }),
  };

  function dialect() {
    var checked = $('input[name="dialect"]:checked', form);
    return checked ? checked.value : "plain";
  }

  function modifierStrings() {
    return state.modifiers.map(function (c) {
      var weight = formatWeight(c.weight);
      return weight === "1" ? c.slug : c.slug + ":" + weight;
    });
  }

  // The recipe as presets, history and the query string hold it.
  function recipe(includeSubject) {
    var out = {};
    var subject = subjectInput.value.trim();
    if (includeSubject && subject) out.subject = subject;
    if (state.modifiers.length) out.modifiers = modifierStrings();
    if (negativeInput.value.trim()) out.negative_prompt = negativeInput.value.trim();
    out.dialect = dialect();
    ["seed", "size", "steps", "guidance", "n"].forEach(function (name) {
      var input = params[name];
      if (input && input.value !== "") out[name] = name === "size" ? input.value : Number(input.value);
    });
    return out;
  }

  function builderUrl(saved, extra) {
    var query = new URLSearchParams();
    var names = { subject: "subject", negative_prompt: "negative", dialect: "dialect", seed: "seed",
      size: "size", steps: "steps", guidance: "guidance", n: "n" };
    Object.keys(names).forEach(function (field) {
      if (saved[field] !== undefined && saved[field] !== null && saved[field] !== "") query.set(names[field], saved[field]);
    });
    if (saved.modifiers && saved.modifiers.length) query.set("m", saved.modifiers.join(","));
    Object.keys(extra || {}).forEach(function (key) { query.set(key, extra[key]); });
    var text = query.toString();
    return "/create" + (text ? "?" + text : "");
  }

  function remixExtra() {
    return remixInput ? { remix_of: remixInput.value } : {};
  }

  // -- chips and menus ---------------------------------------------------------------------------

  function weightSelect(choice, name) {
    var select = el("select", { "class": "chip-weight", "aria-label": "Weight of " + name, "data-weight": choice.slug });
    var options = WEIGHTS.slice();
    if (options.indexOf(choice.weight) < 0) options.push(choice.weight);
    options.sort(function (a, b) { return a - b; }).forEach(function (w) {
      var option = el("option", { value: String(w), text: "×" + formatWeight(w) });
      if (w === choice.weight) option.selected = true;
      select.appendChild(option);
    });
    return select;
  }

  function renderChips() {
    chosenList.textContent = "";
    var weighted = dialect() === "sd";
    if (!state.modifiers.length) {
      chosenList.appendChild(el("li", { "class": "chosen-empty muted small", text: "None yet — pick some from the menus below." }));
    }
    state.modifiers.forEach(function (choice) {
      var name = entries[choice.slug].name;
      var value = formatWeight(choice.weight) === "1" ? choice.slug : choice.slug + ":" + formatWeight(choice.weight);
      chosenList.appendChild(el("li", { "class": "chip chip-accent chosen-chip", "data-slug": choice.slug }, [
        el("span", { "class": "chip-name", text: name }),
        weighted ? weightSelect(choice, name) : null,
        el("button", { type: "button", "class": "chip-remove", "data-remove": choice.slug,
          "aria-label": "Remove " + name, title: "Remove" }, ["×"]),
        el("input", { type: "hidden", name: "modifiers", value: value }),
      ]));
    });
  }

  function syncMenus() {
    var chosen = {};
    state.modifiers.forEach(function (c) { chosen[c.slug] = true; });
    Object.keys(entries).forEach(function (slug) { entries[slug].input.checked = !!chosen[slug]; });
    $$(".menu-group", form).forEach(function (group) {
      var count = $$(".mod-input:checked", group).length;
      var badge = $("[data-group-count]", group);
      badge.textContent = String(count);
      badge.hidden = count === 0;
    });
  }

  function setModifiers(list) {
    var seen = {};
    state.modifiers = list.filter(function (c) {
      if (!entries[c.slug] || seen[c.slug]) return false;
      seen[c.slug] = true;
      return true;
    });
    renderChips();
    syncMenus();
  }

  function toggle(slug, on) {
    var rest = state.modifiers.filter(function (c) { return c.slug !== slug; });
    setModifiers(on ? rest.concat([{ slug: slug, weight: 1 }]) : rest);
  }

  // -- the preview ----------------------------------------------------------------------------

  var previewBox = $("[data-preview]", form);
  var negativeLine = $("[data-preview-negative]", form);
  var meter = $("[data-meter]", form);
  var meterBar = $("[data-meter-bar]", form);
  var meterText = $("[data-meter-text]", form);
  var cutoff = $("[data-cutoff]", form);
  var findingsList = $("[data-findings]", form);
  var findingsCount = $("[data-findings-count]", form);
  var copyButton = $("[data-copy-prompt]", form);
  var loginLink = $("[data-login-link]", form);
  var dialectNote = $("[data-dialect-note]", form);
  var current = null;  // the last preview the API returned
  var sequence = 0;

  function segments(prompt, findings) {
    var spans = [];
    findings.forEach(function (f, i) {
      if (f.start !== null && f.end !== null && f.start >= 0 && f.start < f.end && f.end <= prompt.length) {
        spans.push({ i: i, start: f.start, end: f.end, severity: f.severity });
      }
    });
    var bounds = [0, prompt.length];
    spans.forEach(function (s) { bounds.push(s.start, s.end); });
    bounds = bounds.filter(function (b, i) { return bounds.indexOf(b) === i; }).sort(function (a, b) { return a - b; });
    var out = [];
    for (var k = 0; k + 1 < bounds.length; k++) {
      var start = bounds[k], end = bounds[k + 1];
      var covering = spans.filter(function (s) { return s.start <= start && end <= s.end; });
      var severity = null;
      covering.forEach(function (s) {
        if (severity === null || SEVERITY_RANK[s.severity] < SEVERITY_RANK[severity]) severity = s.severity;
      });
      out.push({ text: prompt.slice(start, end), severity: severity,
        ids: covering.map(function (s) { return s.i; }).join(" ") });
    }
    return out;
  }

  function renderEmpty(message) {
    current = null;
    previewBox.textContent = "";
    previewBox.appendChild(el("p", { "class": message ? "preview-empty preview-error" : "preview-empty",
      "data-testid": "preview", role: message ? "alert" : null,
      text: message || "Your prompt appears here as you type a subject and pick modifiers." }));
    negativeLine.hidden = true;
    meter.classList.remove("is-over", "is-near");
    meterBar.style.width = "0%";
    meterText.textContent = "0 tokens";
    cutoff.hidden = true;
    findingsCount.textContent = "";
    findingsList.textContent = "";
    findingsList.appendChild(el("li", { "class": "findings-empty muted small",
      text: "Advice on what the prompt will and will not do shows here." }));
    copyButton.disabled = true;
  }

  function render(data) {
    current = data;
    var findings = data.lint.findings;
    var text = el("p", { "class": "preview-text", "data-testid": "preview" });
    segments(data.prompt, findings).forEach(function (s) {
      text.appendChild(s.severity
        ? el("mark", { "class": "hl hl-" + s.severity, "data-f": s.ids, text: s.text })
        : document.createTextNode(s.text));
    });
    previewBox.textContent = "";
    previewBox.appendChild(text);

    negativeLine.hidden = !data.negative_prompt;
    $("[data-negative-text]", negativeLine).textContent = data.negative_prompt;

    var tokens = data.lint.tokens;
    var ratio = tokens.limit ? tokens.count / tokens.limit : 0;
    meterBar.style.width = Math.min(100, Math.round(ratio * 100)) + "%";
    meter.classList.toggle("is-over", tokens.count > tokens.limit);
    meter.classList.toggle("is-near", tokens.count <= tokens.limit && ratio >= 0.85);
    meter.setAttribute("aria-valuenow", tokens.count);
    meter.setAttribute("aria-valuemax", tokens.limit);
    meterText.textContent = tokens.count + " / " + tokens.limit + " tokens";
    cutoff.hidden = !tokens.truncated_text;
    $("[data-cutoff-text]", cutoff).textContent = tokens.truncated_text;

    findingsCount.textContent = findings.length ? String(findings.length) : "";
    findingsList.textContent = "";
    if (!findings.length) {
      findingsList.appendChild(el("li", { "class": "findings-empty muted small", text: "Nothing to warn about. Looks good." }));
    }
    findings.forEach(function (f, i) {
      var fix = data.fixes[i];
      findingsList.appendChild(el("li", { "class": "finding", "data-f": String(i), "data-code": f.code }, [
        el("span", { "class": "badge sev-" + f.severity, text: f.severity }),
        el("div", { "class": "finding-body" }, [
          el("p", { "class": "finding-msg", text: f.message }),
          f.suggestion ? el("p", { "class": "finding-tip", text: f.suggestion }) : null,
          fix ? el("button", { type: "button", "class": "btn btn-small finding-apply", "data-apply": String(i) },
            [el("span", { "aria-hidden": "true", text: "✓" }), " " + fix.label]) : null,
        ]),
      ]));
    });
    copyButton.disabled = false;
  }

  function payload() {
    var body = { subject: subjectInput.value, modifiers: state.modifiers.map(function (c) {
      return { slug: c.slug, weight: c.weight };
    }), negative_prompt: negativeInput.value, dialect: dialect(), params: {} };
    if (body.dialect === "midjourney") {
      if (params.seed && params.seed.value !== "") body.params.seed = Number(params.seed.value);
      if (params.size && params.size.value) {
        var wh = params.size.value.split("x");
        body.params.width = Number(wh[0]);
        body.params.height = Number(wh[1]);
      }
    }
    return body;
  }

  function syncAddress() {
    var url = builderUrl(recipe(true), remixExtra());
    history.replaceState(null, "", url);
    if (loginLink) loginLink.href = form.getAttribute("data-login-url") + "?next=" + encodeURIComponent(url);
    if (dialectNote) dialectNote.hidden = dialect() !== "midjourney";
  }

  function refresh() {
    syncAddress();
    var body = payload();
    var mine = ++sequence;
    if (!body.subject.trim() && !body.modifiers.length) {
      renderEmpty();
      return Promise.resolve();
    }
    previewBox.classList.add("is-busy");
    return api("POST", "/prompts/preview", body).then(function (data) {
      if (mine !== sequence) return;
      render(data);
      rememberSoon();
    }, function (error) {
      if (mine !== sequence) return;
      renderEmpty(error.message);
    }).then(function () {
      if (mine === sequence) previewBox.classList.remove("is-busy");
    });
  }
  var schedule = debounce(refresh, DEBOUNCE_MS);

  // A recipe from outside (a fix, a preset, a history entry) replaces the form's fields.
  function applyRecipe(saved, options) {
    options = options || {};
    if (saved.subject !== undefined || options.replace) subjectInput.value = saved.subject || "";
    if (saved.modifiers !== undefined || options.replace) setModifiers((saved.modifiers || []).map(parseChoice));
    if (saved.negative_prompt !== undefined || options.replace) negativeInput.value = saved.negative_prompt || "";
    if (saved.dialect) {
      var radio = $('input[name="dialect"][value="' + saved.dialect + '"]', form);
      if (radio) radio.checked = true;
      renderChips();
    }
    ["seed", "size", "steps", "guidance", "n"].forEach(function (name) {
      var input = params[name];
      if (!input || (saved[name] === undefined && !options.replace)) return;
      var value = saved[name] === undefined || saved[name] === null ? "" : String(saved[name]);
      if (input.tagName === "SELECT" && value && !$('option[value="' + value + '"]', input)) {
        input.appendChild(el("option", { value: value, text: value }));
      }
      input.value = value;
    });
    return refresh();
  }

  // A finished prompt (a fix's result, an old entry) read back into the menus.
  function applyPrompt(prompt, negative, dialectName) {
    return api("POST", "/prompts/parse", { prompt: prompt }).then(function (parsed) {
      var subject = [parsed.subject].concat(parsed.unrecognized).filter(Boolean).join(", ");
      var saved = {
        subject: subject,
        modifiers: parsed.modifiers.map(function (m) { return m.slug + ":" + m.weight; }),
        negative_prompt: negative === null ? parsed.negative_prompt : negative,
      };
      if (dialectName) saved.dialect = dialectName;
      if (parsed.params && typeof parsed.params.seed === "number") saved.seed = parsed.params.seed;
      return applyRecipe(saved);
    }, function (error) { renderEmpty(error.message); });
  }

  function applyFix(index) {
    if (!current || !current.fixes[index]) return;
    var fix = current.fixes[index];
    var mj = dialect() === "midjourney";
    applyPrompt(fix.prompt, mj ? null : fix.negative_prompt).then(function () {
      previewBox.classList.add("is-flash");
      setTimeout(function () { previewBox.classList.remove("is-flash"); }, 600);
    });
  }

  // -- copy ------------------------------------------------------------------------------------

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var area = el("textarea", { "class": "sr-only" });
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
    return Promise.resolve();
  }

  copyButton.addEventListener("click", function () {
    if (!current) return;
    copyText(current.prompt).then(function () {
      copyButton.textContent = "Copied";
      copyButton.classList.add("is-done");
      setTimeout(function () {
        copyButton.textContent = "Copy";
        copyButton.classList.remove("is-done");
      }, 1500);
      remember();
    });
  });

  // -- history ---------------------------------------------------------------------------------

  var historyPanel = $("[data-history-panel]");
  var historyList = $("[data-history-list]");
  var historySearch = $("[data-history-search]");
  var lastRemembered = null;
  var rememberTimer = null;

  function remember() {
    clearTimeout(rememberTimer);
    if (!authed || !current) return;
    var key = [current.prompt, current.negative_prompt, dialect()].join("\n");
    if (key === lastRemembered) return;
    lastRemembered = key;
    api("POST", "/history", { prompt: current.prompt, negative_prompt: current.negative_prompt,
      dialect: dialect(), state: recipe(true) }).then(function () {
      if (historyPanel && historyPanel.open) loadHistory();
    }, function () { lastRemembered = null; });
  }

  function rememberSoon() {
    clearTimeout(rememberTimer);
    if (authed) rememberTimer = setTimeout(remember, HISTORY_IDLE_MS);
  }

  function timeAgo(iso) {
    var seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    if (seconds < 60) return "just now";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
    return Math.floor(seconds / 86400) + " d ago";
  }

  function renderHistory(items) {
    historyList.textContent = "";
    if (!items.length) {
      historyList.appendChild(el("li", { "class": "recipe-empty muted small",
        text: historySearch && historySearch.value ? "No prompt matches that." : "Prompts you compose here show up in your history." }));
    }
    items.forEach(function (item) {
      var hasRecipe = item.state && (item.state.subject || item.state.modifiers);
      var href = hasRecipe ? builderUrl(item.state, remixExtra())
        : "/create?" + new URLSearchParams({ prompt: item.prompt, negative: item.negative_prompt, dialect: item.dialect }).toString();
      historyList.appendChild(el("li", {}, [el("a", { href: href, "class": "history-item",
        "data-apply-state": JSON.stringify(item.state || {}), "data-prompt": item.prompt,
        "data-negative": item.negative_prompt, "data-dialect": item.dialect }, [
        el("span", { "class": "history-prompt", text: item.prompt }),
        el("span", { "class": "history-meta muted small", text: item.dialect + " · " + timeAgo(item.created_at) }),
      ])]));
    });
  }

  function loadHistory() {
    var q = historySearch ? historySearch.value.trim() : "";
    return api("GET", "/history" + (q ? "?q=" + encodeURIComponent(q) : "")).then(function (data) {
      renderHistory(data.items);
    }, function () {});
  }

  if (historyPanel) {
    historyPanel.addEventListener("toggle", function () { if (historyPanel.open) loadHistory(); });
    historySearch.addEventListener("input", debounce(loadHistory, 200));
  }

  // -- presets ---------------------------------------------------------------------------------

  var presetList = $("[data-preset-list]");
  var presetName = $("[data-preset-name]");
  var presetError = $("[data-preset-error]");
  var presetCount = $("[data-preset-count]");

  function renderPresets(items) {
    presetList.textContent = "";
    presetCount.textContent = String(items.length);
    if (!items.length) {
      presetList.appendChild(el("li", { "class": "recipe-empty muted small",
        text: "No presets yet. Save the modifiers you like to reuse them." }));
    }
    items.forEach(function (preset) {
      presetList.appendChild(el("li", { "class": "recipe-item", "data-preset-id": String(preset.id) }, [
        el("a", { href: builderUrl(preset.state, remixExtra()), "class": "recipe-link",
          "data-apply-state": JSON.stringify(preset.state), text: preset.name }),
        el("button", { type: "button", "class": "icon-btn", "data-preset-delete": String(preset.id),
          "aria-label": "Delete preset " + preset.name, title: "Delete" }, ["×"]),
      ]));
    });
  }

  function presetProblem(message) {
    presetError.textContent = message || "";
    presetError.hidden = !message;
  }

  function savePreset() {
    var name = presetName.value.trim();
    if (!name) { presetProblem("Give the preset a name."); presetName.focus(); return; }
    var includeSubject = $("[data-preset-subject]").checked;
    api("POST", "/presets", { name: name, state: recipe(includeSubject) }).then(function () {
      presetProblem("");
      presetName.value = "";
      return api("GET", "/presets").then(function (data) { renderPresets(data.items); });
    }, function (error) { presetProblem(error.message); });
  }

  if (presetList) {
    $("[data-preset-save]").addEventListener("click", savePreset);
    presetName.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); savePreset(); }
    });
    presetList.addEventListener("click", function (event) {
      var button = event.target.closest("[data-preset-delete]");
      if (!button) return;
      var id = button.getAttribute("data-preset-delete");
      api("DELETE", "/presets/" + id).then(function () {
        return api("GET", "/presets").then(function (data) { renderPresets(data.items); });
      }, function (error) { presetProblem(error.message); });
    });
  }

  // Presets and history entries are links that work without JavaScript; here they fill
  // the form in place instead.
  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-apply-state]");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    var saved = JSON.parse(link.getAttribute("data-apply-state") || "{}");
    var isHistory = link.classList.contains("history-item");
    if (isHistory && !saved.subject && !(saved.modifiers && saved.modifiers.length)) {
      applyPrompt(link.getAttribute("data-prompt"), link.getAttribute("data-negative") || "",
        link.getAttribute("data-dialect"));
    } else {
      applyRecipe(saved, { replace: isHistory });
    }
    var panel = link.closest("details");
    if (panel) panel.open = false;
    subjectInput.focus();
  });

  // -- the filter ------------------------------------------------------------------------------

  var filterInput = $("[data-filter]", form);
  var filterEmpty = $("[data-filter-empty]", form);
  var groups = $$(".menu-group", form);
  var openBefore = null;

  function filter() {
    var words = filterInput.value.toLowerCase().split(/\s+/).filter(Boolean);
    if (words.length && openBefore === null) openBefore = groups.map(function (g) { return g.open; });
    var any = false;
    groups.forEach(function (group, i) {
      var matches = 0;
      $$(".mod", group).forEach(function (li) {
        var text = li.getAttribute("data-q");
        var hit = words.every(function (w) { return text.indexOf(w) >= 0; });
        li.hidden = !hit;
        if (hit) matches++;
      });
      group.hidden = words.length > 0 && matches === 0;
      if (words.length) group.open = matches > 0;
      else if (openBefore) group.open = openBefore[i];
      if (matches) any = true;
    });
    if (!words.length) openBefore = null;
    filterEmpty.hidden = any;
  }
  filterInput.addEventListener("input", debounce(filter, 60));
  filterInput.addEventListener("keydown", function (event) {
    if (event.key === "Enter") event.preventDefault();
    if (event.key === "Escape") { filterInput.value = ""; filter(); }
  });

  // -- limits of the configured model ------------------------------------------------------------

  function applyLimits(limits) {
    var size = params.size;
    var chosen = size.value;
    size.textContent = "";
    size.appendChild(el("option", { value: "", text: "Default" }));
    limits.sizes.forEach(function (value) { size.appendChild(el("option", { value: value, text: value.replace("x", " × ") })); });
    if (chosen && limits.sizes.indexOf(chosen) < 0) size.appendChild(el("option", { value: chosen, text: chosen }));
    size.value = chosen;
    params.steps.min = limits.steps[0];
    params.steps.max = limits.steps[1];
    params.steps.placeholder = "default " + limits.default_steps;
    params.guidance.min = limits.guidance[0];
    params.guidance.max = limits.guidance[1];
    params.guidance.placeholder = "default " + limits.default_guidance;
    var n = params.n;
    var count = n.value;
    n.textContent = "";
    n.appendChild(el("option", { value: "", text: "Default" }));
    for (var i = 1; i <= limits.max_images; i++) n.appendChild(el("option", { value: String(i), text: String(i) }));
    n.value = count;
    var help = $("[data-limits-help]", form);
    if (help) {
      help.textContent = "Default size " + limits.default_size.replace("x", " × ") + ". Steps " + limits.steps[0] + "–" + limits.steps[1] + ", guidance " + limits.guidance[0] +
        "–" + limits.guidance[1] + ", up to " + limits.max_images + " images. Leave a field empty for the model's default.";
    }
  }

  fetch(API + "/models/current", { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (data) { if (data && data.limits) applyLimits(data.limits); })
    .catch(function () {});

  // -- wiring ----------------------------------------------------------------------------------

  form.addEventListener("change", function (event) {
    var target = event.target;
    if (target.classList.contains("mod-input")) {
      toggle(target.closest(".mod").getAttribute("data-slug"), target.checked);
      schedule();
    } else if (target.hasAttribute("data-weight")) {
      var slug = target.getAttribute("data-weight");
      state.modifiers.forEach(function (c) { if (c.slug === slug) c.weight = parseFloat(target.value); });
      var hidden = $('input[name="modifiers"]', target.closest(".chosen-chip"));
      hidden.value = formatWeight(parseFloat(target.value)) === "1" ? slug : slug + ":" + formatWeight(parseFloat(target.value));
      schedule();
    } else if (target.name === "dialect") {
      renderChips();
      schedule();
    } else if (target.hasAttribute("data-param")) {
      schedule();
    }
  });

  form.addEventListener("input", function (event) {
    if (event.target === subjectInput || event.target === negativeInput) schedule();
    else if (event.target.hasAttribute("data-param") && event.target.tagName === "INPUT") schedule();
  });

  chosenList.addEventListener("click", function (event) {
    var button = event.target.closest("[data-remove]");
    if (!button) return;
    toggle(button.getAttribute("data-remove"), false);
    schedule();
    var next = $(".chip-remove", chosenList) || subjectInput;
    next.focus();
  });

  findingsList.addEventListener("click", function (event) {
    var button = event.target.closest("[data-apply]");
    if (button) applyFix(Number(button.getAttribute("data-apply")));
  });

  // A description shown near the window's right edge moves left to stay readable.
  function placeTip(event) {
    var li = event.target.closest && event.target.closest(".mod");
    if (!li) return;
    var tip = $(".mod-tip", li);
    tip.style.left = "";
    tip.style.removeProperty("--tip-arrow");
    requestAnimationFrame(function () {
      var overflow = tip.getBoundingClientRect().right - (document.documentElement.clientWidth - 8);
      if (overflow > 0) {
        tip.style.left = -overflow + "px";
        tip.style.setProperty("--tip-arrow", "calc(1.1rem + " + overflow + "px)");
      }
    });
  }
  $("[data-picker]", form).addEventListener("mouseover", placeTip);
  $("[data-picker]", form).addEventListener("focusin", placeTip);

  // A finding and its span light up together.
  function highlight(index, on) {
    $$("mark[data-f]", previewBox).forEach(function (mark) {
      if (mark.getAttribute("data-f").split(" ").indexOf(index) >= 0) mark.classList.toggle("is-active", on);
    });
  }
  ["mouseover", "focusin"].forEach(function (type) {
    findingsList.addEventListener(type, function (event) {
      var item = event.target.closest(".finding");
      if (item) highlight(item.getAttribute("data-f"), true);
    });
  });
  ["mouseout", "focusout"].forEach(function (type) {
    findingsList.addEventListener(type, function (event) {
      var item = event.target.closest(".finding");
      if (item) highlight(item.getAttribute("data-f"), false);
    });
  });

  if (keepSeed) {
    keepSeed.addEventListener("change", function () {
      params.seed.value = keepSeed.checked ? keepSeed.getAttribute("data-seed") : "";
      schedule();
    });
  }

  form.addEventListener("submit", function (event) {
    // Preview (and Enter in a field) is the no-JS path: here the preview is already live.
    if (!event.submitter || event.submitter.name === "preview") {
      event.preventDefault();
      refresh();
    }
  });

  renderChips();
  syncMenus();
  if (current === null && (subjectInput.value.trim() || state.modifiers.length)) refresh();
  else syncAddress();
})();
