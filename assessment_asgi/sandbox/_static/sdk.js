/*
 * AssessmentPortal — the embedded SmartAI sandbox's stand-in for the platform's frontend SDK.
 *
 *   <script src="<sandbox>/portal/sdk.js"></script>
 *   const portal = AssessmentPortal.open({ token, onOpen, onClose, onError, onComplete });
 *   portal.close();
 *
 * It shows the sandbox's portal page in an overlay. The token travels in a form POST into
 * the overlay's iframe, never in a URL. No dependencies, no build step, no network but the
 * sandbox itself.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var fallbackBase = "__SANDBOX_BASE_URL__";
  var base = (script && script.src)
    ? script.src.replace(/\/portal\/sdk\.js(\?.*)?$/, "")
    : fallbackBase;
  var baseOrigin = new URL(base, window.location.href).origin;
  var counter = 0;
  var current = null;

  function call(callback, value) {
    if (typeof callback === "function") {
      try { callback(value); } catch (err) { setTimeout(function () { throw err; }); }
    }
  }

  function close() {
    if (!current) { return; }
    var closing = current;
    current = null;
    window.removeEventListener("message", closing.listener);
    window.removeEventListener("keydown", closing.onKey);
    if (closing.overlay.parentNode) { closing.overlay.parentNode.removeChild(closing.overlay); }
    call(closing.options.onClose, undefined);
  }

  function open(options) {
    if (!options || typeof options.token !== "string" || options.token === "") {
      throw new TypeError("AssessmentPortal.open({ token }): token must be a non-empty string");
    }
    close();
    counter += 1;
    var frameName = "assessment-portal-frame-" + counter;

    var overlay = document.createElement("div");
    overlay.id = "assessment-portal-overlay";
    overlay.setAttribute("data-testid", "assessment-portal-overlay");
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-modal", "true");
    overlay.setAttribute("aria-label", "SmartAI assessment portal (sandbox)");
    overlay.style.cssText = "position:fixed;inset:0;z-index:2147483000;display:flex;" +
      "align-items:center;justify-content:center;background:rgba(15,23,42,.55)";

    var panel = document.createElement("div");
    panel.style.cssText = "position:relative;width:min(760px,94vw);height:min(640px,90vh);" +
      "background:#fff;border-radius:10px;box-shadow:0 20px 60px rgba(0,0,0,.35);overflow:hidden";

    var button = document.createElement("button");
    button.type = "button";
    button.id = "assessment-portal-close";
    button.setAttribute("data-testid", "assessment-portal-close");
    button.setAttribute("aria-label", "Close the portal");
    button.textContent = "\u00d7";
    button.style.cssText = "position:absolute;top:6px;right:10px;z-index:1;border:0;" +
      "background:transparent;font-size:26px;line-height:1;cursor:pointer;color:#334155";
    button.addEventListener("click", close);

    var frame = document.createElement("iframe");
    frame.id = "assessment-portal-frame";
    frame.name = frameName;
    frame.title = "SmartAI assessment portal (sandbox)";
    frame.setAttribute("data-testid", "assessment-portal-frame");
    frame.style.cssText = "width:100%;height:100%;border:0";

    panel.appendChild(button);
    panel.appendChild(frame);
    overlay.appendChild(panel);
    var host = document.body || document.documentElement;
    host.appendChild(overlay);

    var listener = function (event) {
      if (event.origin !== baseOrigin || event.source !== frame.contentWindow) { return; }
      var data = event.data || {};
      if (data.source !== "assessment-portal") { return; }
      if (data.type === "opened") { call(options.onOpen, data.detail); }
      else if (data.type === "error") { call(options.onError, new Error(data.message || "Portal error")); }
      else if (data.type === "completed") { call(options.onComplete, data.detail); }
      else if (data.type === "close") { close(); }
    };
    var onKey = function (event) { if (event.key === "Escape") { close(); } };
    window.addEventListener("message", listener);
    window.addEventListener("keydown", onKey);
    current = { overlay: overlay, listener: listener, onKey: onKey, options: options };

    var form = document.createElement("form");
    form.method = "POST";
    form.action = base + "/portal/view";
    form.target = frameName;
    form.style.display = "none";
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = "token";
    input.value = options.token;
    form.appendChild(input);
    host.appendChild(form);
    form.submit();
    host.removeChild(form);

    return { close: close };
  }

  window.AssessmentPortal = { open: open, close: close, baseUrl: base };
})();
