"""Inline script of the HTML report: click-to-zoom, the failures-only filter, and a self-test.

Without the script the page still works (a figure links to its full PNG). Opened with
``?selftest`` the page drives its own zoom and filter and writes what it saw into ``<body>``
attributes: headless Chromium's ``--dump-dom`` can read attributes but cannot click, so this
is how tests/test_report*.py checks the page from outside.
"""

SCRIPT = r"""
(function () {
  var LOAD_AHEAD_PX = 3000;
  var errors = [];
  window.addEventListener("error", function (ev) { errors.push(String(ev.message)); });
  var consoleError = console.error;
  console.error = function () { errors.push(Array.prototype.join.call(arguments, " ")); consoleError.apply(console, arguments); };

  var zoom = document.getElementById("zoom");
  var zimg = zoom.querySelector("img");
  function openZoom(href) { zimg.src = href; zoom.hidden = false; }
  function closeZoom() { zoom.hidden = true; zimg.removeAttribute("src"); }
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest ? ev.target.closest("a.zoom") : null;
    if (a) { ev.preventDefault(); openZoom(a.getAttribute("href")); return; }
    if (!zoom.hidden && zoom.contains(ev.target)) closeZoom();
  });
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape" && !zoom.hidden) closeZoom(); });

  var box = document.getElementById("failures-only");
  function applyFilter() { document.body.classList.toggle("failures-only", box.checked); }
  box.addEventListener("change", applyFilter);
  applyFilter();

  var imgs = Array.prototype.slice.call(document.querySelectorAll("main img"));
  function loaded(img) { return img.complete && img.naturalWidth > 0; }
  function visible(sel) {
    return Array.prototype.filter.call(document.querySelectorAll(sel), function (el) { return el.getClientRects().length > 0; }).length;
  }
  function selftest() {
    var r = {}, seen = {}, dup = [], broken = [];
    Array.prototype.forEach.call(document.querySelectorAll("[id]"), function (el) { if (seen[el.id]) dup.push(el.id); seen[el.id] = 1; });
    Array.prototype.forEach.call(document.querySelectorAll('a[href^="#"]'), function (a) {
      if (!document.getElementById(decodeURIComponent(a.getAttribute("href").slice(1)))) broken.push(a.getAttribute("href"));
    });
    r.duplicateIds = dup; r.brokenAnchors = broken;
    r.tocLinks = document.querySelectorAll('nav#toc a[href^="#"]').length;
    r.figures = visible("article.figure"); r.failFigures = document.querySelectorAll("article.figure.fail").length;
    r.failClaims = document.querySelectorAll("tr.claim.verdict-fail").length;
    r.failSections = Array.prototype.filter.call(document.querySelectorAll("section.paper"),
      function (s) { return s.querySelector("article.figure.fail") !== null; }).length;
    box.click();  // the real control, through its real handler
    r.filtered = {figures: visible("article.figure"), passingClaims: visible("tr.claim:not(.verdict-fail)"),
                  failClaims: visible("tr.claim.verdict-fail"), sections: visible("section.paper")};
    box.click();
    r.unfilteredFigures = visible("article.figure");
    var a = document.querySelector("a.zoom");
    if (a) {
      a.click();
      r.zoom = {href: a.getAttribute("href"), open: !zoom.hidden && zoom.getClientRects().length > 0, src: zimg.getAttribute("src")};
      document.dispatchEvent(new KeyboardEvent("keydown", {key: "Escape"}));
      r.zoom.closed = zoom.hidden && zoom.getClientRects().length === 0;
    }
    r.consoleErrors = errors;
    document.body.dataset.selftest = JSON.stringify(r);
  }
  window.addEventListener("load", function () {
    setTimeout(function () {
      // What a first render fetches: the lazy images within Chromium's load-ahead distance of
      // the first screen (at most 3000 px below it). Headless virtual time loads every lazy
      // image regardless, so the test reads this estimate instead of what was fetched.
      var reach = window.innerHeight + LOAD_AHEAD_PX;
      document.body.dataset.firstRender = JSON.stringify(imgs.filter(function (i) {
        return i.getBoundingClientRect().top + window.scrollY < reach;
      }).map(function (i) { return i.getAttribute("src"); }));
      if (location.search.indexOf("selftest") < 0) return;
      imgs.forEach(function (i) { i.loading = "eager"; });
      var tries = 0;
      (function wait() {
        if (imgs.every(function (i) { return i.complete; }) || ++tries > 100) {
          document.body.dataset.imagesLoaded = imgs.filter(loaded).length + "/" + imgs.length;
          selftest();
        } else { setTimeout(wait, 100); }
      })();
    }, 300);
  });
})();
"""
