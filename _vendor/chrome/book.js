/* lgm book chrome (loaded on every page by _config.yml: html_js_files).
 *
 * 1. MathJax on every page: Sphinx adds MathJax only to pages whose own body has math, so
 *    a page whose sidebar or outputs hold math (the summary) showed raw \( \gamma \). Load
 *    the vendored copy (../mathjax/, next to this file in _static/) when Sphinx did not.
 * 2. Figures: click a figure to see it at its natural size in a lightbox (Escape, a click
 *    or the close button closes it). Plain JS, no network: works from file://.
 * 3. Display math and tables wider than the text column get a shadow on their right edge
 *    (they scroll: book.css), so that a reader sees there is more.
 */
(function () {
  "use strict";
  var here = document.currentScript && document.currentScript.src;

  function loadMathJax() {
    if (window.MathJax && window.MathJax.version) return;
    if (document.querySelector('script[src*="mathjax/tex-mml-chtml.js"]')) return;
    if (!here) return;
    var s = document.createElement("script");
    s.src = here.replace(/chrome\/book\.js(\?.*)?$/, "mathjax/tex-mml-chtml.js");
    s.async = true;
    s.id = "MathJax-script";
    document.head.appendChild(s);
  }

  var box = null;

  function closeBox() {
    if (!box) return;
    box.remove();
    box = null;
    document.body.classList.remove("lgm-lightbox-open");
  }

  function openBox(img) {
    closeBox();
    box = document.createElement("div");
    box.className = "lgm-lightbox";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", "enlarged figure (Escape closes)");
    var big = document.createElement("img");
    big.src = img.currentSrc || img.src;
    big.alt = img.alt || "figure";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "lgm-lightbox-close";
    close.setAttribute("aria-label", "close");
    close.textContent = "\u00d7";
    box.appendChild(big);
    box.appendChild(close);
    box.addEventListener("click", closeBox);
    document.body.appendChild(box);
    document.body.classList.add("lgm-lightbox-open");
    close.focus();
  }

  function isFigure(img) {
    return !!img.closest(".cell_output, figure, .figure, .output");
  }

  /* Full width, but never blown up past twice the natural size (a small figure stays sharp). */
  function capUpscaling(img) {
    function cap() { if (img.naturalWidth) img.style.maxWidth = 2 * img.naturalWidth + "px"; }
    if (img.complete) cap(); else img.addEventListener("load", cap);
  }

  function setUpFigures() {
    var imgs = document.querySelectorAll(".bd-article img");
    for (var i = 0; i < imgs.length; i++) {
      var img = imgs[i];
      if (!isFigure(img)) continue;
      img.classList.add("lgm-zoomable");
      capUpscaling(img);
      img.setAttribute("tabindex", "0");
      img.setAttribute("title", "click to enlarge");
      img.addEventListener("click", function (e) { openBox(e.currentTarget); });
      img.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openBox(e.currentTarget); }
      });
    }
    document.addEventListener("keydown", function (e) { if (e.key === "Escape") closeBox(); });
  }

  /* Wide display math and tables scroll (book.css); a shadow on the right edge says so. */
  function markScrollers() {
    var els = document.querySelectorAll(
      '.bd-article mjx-container[display="true"], .bd-article .pst-scrollable-table-container,' +
      ' .bd-article table');
    for (var i = 0; i < els.length; i++) {
      els[i].classList.toggle("lgm-scrolls", els[i].scrollWidth > els[i].clientWidth + 1);
    }
  }

  function whenTypeset() {
    var mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) {
      mj.startup.promise.then(markScrollers);
    } else {
      setTimeout(whenTypeset, 200);
    }
  }

  loadMathJax();
  window.addEventListener("load", function () { markScrollers(); whenTypeset(); });
  window.addEventListener("resize", markScrollers);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpFigures);
  } else {
    setUpFigures();
  }
})();
