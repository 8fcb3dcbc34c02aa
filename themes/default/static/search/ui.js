/*
 * The search page: reads ?q= (and the filters) from the URL, loads lunr.js and the index
 * shards on first use, shows results with the matching passage highlighted.
 *
 * The filters' data (year, agency and sources of every document) is loaded only when
 * the reader opens the filters or the URL holds one, so a plain query downloads only
 * lunr.js, the manifest, the shards of its terms and the documents it shows.
 *
 * Timings are left on <body> for the tests and the benchmark: data-query-ms (parse,
 * load shards, score, merge), data-draw-ms (load the shown documents, build the list),
 * data-search-ms (both), data-done-at (milliseconds since the page was requested) and
 * data-search-done (the query answered); data-warmed once the preload shards are loaded.
 */
(function () {
  "use strict";

  var PAGE = 10;
  var SNIPPET_BEFORE = 30;
  var SNIPPET_LENGTH = 110;
  var root = document.currentScript.getAttribute("data-root") || "";
  var form = document.getElementById("search-form");
  var input = document.getElementById("search-q");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  var more = document.getElementById("search-more");
  var filterBox = document.getElementById("search-filters");
  var selects = {
    source: document.getElementById("search-source"),
    year: document.getElementById("search-year"),
    agency: document.getElementById("search-agency"),
  };
  var filterToggle = document.getElementById("search-filter-toggle");
  var filterFields = document.getElementById("search-filter-fields");
  // The filter name in the URL -> the facet column (and list of values) in the index.
  var COLUMN = { source: "sources", year: "years", agency: "agencies" };

  var engine = null;
  var enginePromise = null;
  var generation = 0;
  var state = null; // the current query's answer, filters applied lazily
  var onScreen = null; // the query and filters on screen, so the same search is not redrawn
  var facets = null; // {values, columns} (generator/search.py) once the filters are opened

  function loadScript(path) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = root + path;
      script.onload = function () { script.remove(); resolve(); };
      script.onerror = function () { script.remove(); reject(new Error("cannot load " + path)); };
      document.head.appendChild(script);
    });
  }

  // lunr.js and the engine, the first time search is used.
  function getEngine() {
    if (!enginePromise) {
      enginePromise = loadScript("static/search/vendor/lunr-2.3.9/lunr.min.js").then(function () {
        engine = JianbaoEngine.createEngine({ lunr: window.lunr, tokenizer: JianbaoTokenizer, load: loadScript });
        window.JianbaoSearch = engine.receiver;
        window.JianbaoSearchEngine = engine; // for the tests and the benchmark
        return engine;
      });
    }
    return enginePromise;
  }

  function params() {
    return new URLSearchParams(window.location.search);
  }

  function updateUrl(query) {
    var search = new URLSearchParams();
    if (query) search.set("q", query);
    Object.keys(selects).forEach(function (name) {
      if (selects[name].value) search.set(name, selects[name].value);
    });
    var text = search.toString();
    try {
      history.replaceState(null, "", text ? "?" + text : window.location.pathname);
    } catch (error) {
      // Some browsers refuse to change a file:// address; the search still works.
    }
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The original text with each normalised character mapped back to where it came from.
  function normalisedMap(text) {
    var chars = Array.from(text);
    var normal = [];
    var origin = [];
    var offset = 0;
    chars.forEach(function (char) {
      Array.from(JianbaoTokenizer.normalize(char)).forEach(function (n) {
        normal.push(n);
        origin.push([offset, offset + char.length]);
      });
      offset += char.length;
    });
    return { normal: normal.join(""), units: normal, origin: origin };
  }

  // Ranges [start, end) of the original text where any target (normalised) occurs.
  function matchRanges(text, targets) {
    var map = normalisedMap(text);
    var ranges = [];
    // Positions in map.normal are UTF-16 offsets; translate to the per-character table.
    var unitIndex = [];
    map.units.forEach(function (unit, i) { for (var k = 0; k < unit.length; k++) unitIndex.push(i); });
    targets.forEach(function (target) {
      if (!target) return;
      var from = 0;
      var at;
      while ((at = map.normal.indexOf(target, from)) >= 0) {
        var first = unitIndex[at];
        var last = unitIndex[at + target.length - 1];
        ranges.push([map.origin[first][0], map.origin[last][1]]);
        from = at + 1;
      }
    });
    ranges.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    var merged = [];
    ranges.forEach(function (range) {
      var previous = merged[merged.length - 1];
      if (previous && range[0] <= previous[1]) previous[1] = Math.max(previous[1], range[1]);
      else merged.push(range.slice());
    });
    return merged;
  }

  function highlightTargets(answer) {
    var targets = answer.kept.map(function (clause) { return clause.term; });
    return targets.concat(answer.parsed.phrases);
  }

  // A passage around the longest match (the first of equals), as a paragraph with <mark>s.
  function snippet(text, targets) {
    var ranges = matchRanges(text, targets);
    var anchor = ranges.reduce(function (best, range) {
      return !best || range[1] - range[0] > best[1] - best[0] ? range : best;
    }, null);
    var start = anchor ? Math.max(0, anchor[0] - SNIPPET_BEFORE) : 0;
    var end = Math.min(text.length, start + SNIPPET_LENGTH);
    var paragraph = element("p", "result-snippet");
    var position = start;
    if (start > 0) paragraph.appendChild(document.createTextNode("…"));
    ranges.forEach(function (range) {
      if (range[1] <= start || range[0] >= end) return;
      var from = Math.max(range[0], start);
      var to = Math.min(range[1], end);
      if (from > position) paragraph.appendChild(document.createTextNode(text.slice(position, from)));
      paragraph.appendChild(element("mark", "", text.slice(from, to)));
      position = to;
    });
    if (position < end) paragraph.appendChild(document.createTextNode(text.slice(position, end)));
    if (end < text.length) paragraph.appendChild(document.createTextNode("…"));
    return paragraph;
  }

  function renderHit(record, targets) {
    var item = element("li");
    item.setAttribute("data-dispatch", record.id);
    var heading = element("h2");
    var link = element("a", "result-link", record.title);
    link.href = root + record.url;
    heading.appendChild(link);
    item.appendChild(heading);
    var meta = element("p", "result-meta");
    [record.date, record.agency].forEach(function (part) {
      if (part) meta.appendChild(document.createTextNode(part + " · "));
    });
    meta.appendChild(document.createTextNode(record.witnesses.length > 1 ? record.witnesses.length + " 个版本：" : "来源："));
    record.witnesses.forEach(function (witness, i) {
      if (i) meta.appendChild(document.createTextNode("、"));
      var source = element("a", "", witness.source);
      source.href = root + witness.url;
      source.title = witness.headline;
      meta.appendChild(source);
    });
    item.appendChild(meta);
    var ranges = matchRanges(record.text, targets);
    var text = ranges.length || !record.readings ? record.text : engine.bodyText(record);
    item.appendChild(snippet(text, targets));
    return item;
  }

  function filtersWanted() {
    return Object.keys(selects).some(function (name) { return selects[name].value; });
  }

  function passesFilters(ref) {
    if (!facets) return true;
    var number = parseInt(ref, 36);
    return Object.keys(selects).every(function (name) {
      var wanted = selects[name].value;
      if (!wanted) return true;
      var values = facets.values[COLUMN[name]];
      var cell = facets.columns[COLUMN[name]][number];
      var indexes = Array.isArray(cell) ? cell : [cell];
      return indexes.some(function (i) { return i >= 0 && values[i] === wanted; });
    });
  }

  function fillFilters(hits, wanted) {
    Object.keys(selects).forEach(function (name) {
      var values = facets.values[COLUMN[name]];
      var column = facets.columns[COLUMN[name]];
      var counts = {};
      hits.forEach(function (hit) {
        var cell = column[parseInt(hit.ref, 36)];
        (Array.isArray(cell) ? cell : [cell]).forEach(function (i) {
          if (i >= 0) counts[values[i]] = (counts[values[i]] || 0) + 1;
        });
      });
      var select = selects[name];
      var keep = wanted[name] || select.value;
      while (select.options.length > 1) select.remove(1);
      Object.keys(counts).sort().forEach(function (value) {
        var option = element("option", "", value + "（" + counts[value] + "）");
        option.value = value;
        select.appendChild(option);
      });
      if (keep && !counts[keep]) {
        var missing = element("option", "", keep + "（0）");
        missing.value = keep;
        select.appendChild(missing);
      }
      select.value = keep || "";
    });
  }

  // Load the filters' data (once) and show the filters.
  function openFilters() {
    filterToggle.setAttribute("aria-expanded", "true");
    filterFields.hidden = false;
    if (facets) return Promise.resolve();
    return getEngine()
      .then(function () { return engine.facets(); })
      .then(function (loaded) { facets = loaded; });
  }

  // Show the next page of hits; a query with a phrase checks candidates as it goes.
  function showMore(run) {
    var answer = state.answer;
    var targets = highlightTargets(answer);
    var shown = 0;
    function step() {
      if (run !== generation) return Promise.resolve();
      if (shown >= PAGE || state.next >= state.pool.length) return Promise.resolve();
      var batch = state.pool.slice(state.next, state.next + PAGE - shown);
      state.next += batch.length;
      return Promise.all(batch.map(function (hit) { return engine.doc(hit.ref); })).then(function (records) {
        if (run !== generation) return;
        records.forEach(function (record, i) {
          if (answer.parsed.phrases.length && !engine.phrasesHold(record, answer.parsed.phrases)) return;
          state.verified += 1;
          list.appendChild(renderHit(record, targets));
          shown += 1;
        });
        return step();
      });
    }
    return step().then(function () {
      if (run !== generation) return;
      var exhausted = state.next >= state.pool.length;
      more.hidden = exhausted;
      var phrases = answer.parsed.phrases.length > 0;
      if (!state.verified && exhausted) status.textContent = "没有找到与“" + state.query + "”相符的电讯。";
      else if (phrases && !exhausted) status.textContent = "至少 " + state.verified + " 条电讯相符（已显示 " + list.children.length + " 条）。";
      else if (phrases) status.textContent = "共 " + state.verified + " 条电讯相符。";
      else status.textContent = "共 " + state.pool.length + " 条电讯相符" + (state.pool.length > list.children.length ? "，已显示 " + list.children.length + " 条。" : "。");
    });
  }

  /*
   * A second after a search has been answered (the reader is reading), load the index's
   * preload shards (the most frequent terms: engine.warm) one per idle period, so a later
   * query for one of them is answered without loading it. Stops for as long as a query
   * is being answered.
   */
  var WARM_AFTER_MS = 1000;
  function idle(callback) {
    if (window.requestIdleCallback) window.requestIdleCallback(callback);
    else setTimeout(callback, 50);
  }
  var warming = false;
  function warmInIdle() {
    if (warming) return;
    warming = true;
    setTimeout(idle, WARM_AFTER_MS, function step() {
      if (answering) {
        idle(step);
        return;
      }
      engine.warm().then(function (more) {
        if (more) {
          idle(step);
          return;
        }
        document.body.setAttribute("data-warmed", "");
      }, function () { warming = false; });
    });
  }

  var answering = false;

  function run(query, wanted) {
    query = query.trim();
    wanted = wanted || {};
    var key = JSON.stringify([query, Object.keys(selects).map(function (name) { return wanted[name] || selects[name].value; })]);
    if (key === onScreen) return Promise.resolve();
    onScreen = key;
    generation += 1;
    var current = generation;
    list.textContent = "";
    more.hidden = true;
    if (!query) {
      updateUrl(query);
      status.textContent = "";
      filterBox.hidden = true;
      return Promise.resolve();
    }
    status.textContent = "正在搜索……";
    answering = true;
    var started = performance.now();
    var answered;
    var needFilters = Object.keys(wanted).some(function (name) { return wanted[name]; }) || filtersWanted();
    return getEngine()
      .then(function () {
        return Promise.all([engine.candidates(query), needFilters ? openFilters() : null]);
      })
      .then(function (loaded) {
        if (current !== generation) return;
        answered = performance.now();
        state = { query: query, answer: loaded[0], next: 0, verified: 0 };
        filterBox.hidden = false;
        if (facets) fillFilters(state.answer.hits, wanted);
        state.pool = state.answer.hits.filter(function (hit) { return passesFilters(hit.ref); });
        return showMore(current).then(function () {
          if (current !== generation) return;
          // The address changes once the results are drawn: changing it while the
          // index files load slowed them (history.replaceState keeps Chromium busy
          // when the page waits for its scripts).
          updateUrl(query);
          var done = performance.now();
          document.body.setAttribute("data-query-ms", (answered - started).toFixed(1));
          document.body.setAttribute("data-draw-ms", (done - answered).toFixed(1));
          document.body.setAttribute("data-search-ms", (done - started).toFixed(1));
          document.body.setAttribute("data-done-at", done.toFixed(1));
          document.body.setAttribute("data-search-done", query);
          answering = false;
          warmInIdle();
        });
      })
      .catch(function (error) {
        if (current !== generation) return;
        updateUrl(query);
        answering = false;
        onScreen = null;
        status.textContent = "搜索出错：" + error.message;
      });
  }

  var typing = null;
  input.addEventListener("input", function (event) {
    clearTimeout(typing);
    typing = setTimeout(function () { run(input.value); }, 150);
    // The shards load while the reader types or pauses (a failure shows when the query
    // runs); not for the Latin letters of an input method's composition.
    if (engine && !event.isComposing) engine.prefetch(input.value).catch(function () {});
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearTimeout(typing);
    run(input.value);
  });
  Object.keys(selects).forEach(function (name) {
    selects[name].addEventListener("change", function () { run(input.value); });
  });
  filterToggle.addEventListener("click", function () {
    if (filterToggle.getAttribute("aria-expanded") === "true") {
      filterToggle.setAttribute("aria-expanded", "false");
      filterFields.hidden = true;
      return;
    }
    openFilters().then(function () {
      if (state) fillFilters(state.answer.hits, {});
      selects.source.focus();
    });
  });
  more.addEventListener("click", function () {
    var links = list.querySelectorAll("a.result-link");
    var before = links.length;
    showMore(generation).then(function () {
      var after = list.querySelectorAll("a.result-link");
      if (after[before]) after[before].focus();
    });
  });

  // Keyboard: "/" goes to the box; arrows move between the box and the result headlines.
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typingField = target.tagName === "INPUT" || target.tagName === "SELECT" || target.tagName === "TEXTAREA";
    if (event.key === "/" && !typingField) {
      event.preventDefault();
      input.focus();
      input.select();
      return;
    }
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    var links = Array.prototype.slice.call(list.querySelectorAll("a.result-link"));
    var at = links.indexOf(target);
    if (target === input && event.key === "ArrowDown" && links.length) {
      event.preventDefault();
      links[0].focus();
    } else if (at >= 0) {
      event.preventDefault();
      if (event.key === "ArrowDown" && at + 1 < links.length) links[at + 1].focus();
      else if (event.key === "ArrowUp") (at > 0 ? links[at - 1] : input).focus();
    }
  });

  var initial = params();
  var wanted = {};
  Object.keys(selects).forEach(function (name) { wanted[name] = initial.get(name) || ""; });
  input.value = initial.get("q") || "";
  if (input.value) run(input.value, wanted);
})();
