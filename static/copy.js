// Copy buttons: <button type="button" class="copy" data-copy="ID"> copies the value (or text)
// of the element with that id. No inline script, so the hub's CSP (script-src 'self') holds.
(function () {
  "use strict";
  function textOf(el) {
    return (el.value !== undefined && el.value !== "") ? el.value : el.textContent.trim();
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy[data-copy]");
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    var text = textOf(source);
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.classList.add("copied");
      window.setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(source, text); done(); });
    } else {
      fallback(source, text);
      done();
    }
  });
  function fallback(source, text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "copy-buffer";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* the value stays selectable */ }
    document.body.removeChild(area);
  }
})();
