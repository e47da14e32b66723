/*
 * The example recruiter app's pages: sign in, pick candidates, create a session, open the portal.
 * Plain JavaScript, no build step. Errors are shown in the page, not only in the console.
 *
 * DEVELOPMENT ONLY: the recruiter token is kept in sessionStorage to keep the demo small.
 * A real app uses its own session (e.g. an HttpOnly cookie or its auth library).
 */
(function () {
  "use strict";

  var TOKEN_KEY = "example_app.recruiter_token";
  var RECRUITER_KEY = "example_app.recruiter";

  function byId(id) { return document.getElementById(id); }

  function showError(message, code, status) {
    var box = byId("error");
    var detail = [code ? "code: " + code : "", status ? "HTTP " + status : ""].filter(Boolean);
    var hint = status === 401 ? " Sign in to get a recruiter token." : "";
    box.textContent = message + (detail.length ? " (" + detail.join(", ") + ")" : "") + hint;
    box.setAttribute("data-code", code || "");
    box.hidden = false;
  }

  function clearError() {
    var box = byId("error");
    box.hidden = true;
    box.textContent = "";
    box.removeAttribute("data-code");
  }

  function setStatus(text) { byId("status").textContent = text; }

  // POST JSON and read the {success, data} / {success: false, error, code} envelope.
  async function postJson(url, body, token, idempotencyKey) {
    var headers = { "Content-Type": "application/json" };
    if (token) { headers.Authorization = "Bearer " + token; }
    if (idempotencyKey) { headers["Idempotency-Key"] = idempotencyKey; }
    var response;
    try {
      response = await fetch(url, { method: "POST", headers: headers, body: JSON.stringify(body) });
    } catch (err) {
      throw { message: "The server could not be reached: " + err.message, code: "network_error" };
    }
    var json = null;
    try { json = await response.json(); } catch (err) { json = null; }
    if (!response.ok || !json || json.success !== true) {
      throw {
        message: (json && (json.error || json.message)) || "Request failed",
        code: json && json.code,
        status: response.status
      };
    }
    return json.data;
  }

  function signInPage() {
    var form = byId("signin-form");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      clearError();
      var button = byId("signin-button");
      button.disabled = true;
      try {
        var body = { name: byId("name").value, email: byId("email").value };
        var company = byId("company");  // sandbox mode: the recruiter's company
        if (company) { body.company = company.value; }
        var data = await postJson("/login", body);
        sessionStorage.setItem(TOKEN_KEY, data.token);
        sessionStorage.setItem(RECRUITER_KEY, JSON.stringify(data.recruiter));
        window.location.assign("/candidates");
      } catch (err) {
        showError(err.message, err.code, err.status);
        button.disabled = false;
      }
    });
  }

  function candidatesPage() {
    var token = sessionStorage.getItem(TOKEN_KEY);
    var recruiter = null;
    try { recruiter = JSON.parse(sessionStorage.getItem(RECRUITER_KEY) || "null"); } catch (err) { recruiter = null; }
    if (token && recruiter) {
      byId("recruiter").textContent = "Signed in as " + recruiter.name + " <" + recruiter.email + ">" +
        (recruiter.company ? " · " + recruiter.company.name : "");
      byId("sign-in-link").hidden = true;
      byId("sign-out").hidden = false;
    }
    byId("sign-out").addEventListener("click", function () {
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem(RECRUITER_KEY);
      window.location.assign("/");
    });

    var boxes = Array.prototype.slice.call(document.querySelectorAll("input[name=candidate]"));
    function selected() { return boxes.filter(function (box) { return box.checked; }); }
    function updateCount() { byId("selected-count").textContent = selected().length + " selected"; }
    boxes.forEach(function (box) { box.addEventListener("change", updateCount); });
    updateCount();

    var lastToken = null;
    var createButton = byId("create-session");
    var reopenButton = byId("reopen");

    function openPortal(sessionToken) {
      if (!window.AssessmentPortal) {
        showError("The portal script is not loaded: set ASSESSMENT_PORTAL_SCRIPT_URL on the server", "portal_unavailable");
        return;
      }
      AssessmentPortal.open({
        token: sessionToken,
        onOpen: function () { setStatus("The portal is open."); },
        onError: function (err) {
          // The status line follows the portal: it did not open (and no longer says "closed").
          setStatus("The portal did not open: " + err.message + ".");
          showError("The portal refused the token: " + err.message +
            ". Each token opens the portal once: create a new session for a fresh one.", "portal_error");
        },
        onClose: function () { setStatus("The portal was closed."); }
      });
    }

    // One Idempotency-Key per click: a retry of this click (the network dropped, or the first
    // try is still in flight) reuses it, so the server creates one session, not two.
    function newKey() {
      if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
      var bytes = crypto.getRandomValues(new Uint8Array(16));
      return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
    }

    async function createOnce(url, body, token, key) {
      for (var attempt = 1; ; attempt++) {
        try {
          return await postJson(url, body, token, key);
        } catch (err) {
          var retry = err.code === "network_error" || err.code === "idempotency_key_in_flight";
          if (!retry || attempt >= 3) { throw err; }
          await new Promise(function (done) { setTimeout(done, 500 * attempt); });
        }
      }
    }

    createButton.addEventListener("click", async function () {
      var key = newKey();
      clearError();
      setStatus("");
      var users = selected().map(function (box) {
        return { name: box.getAttribute("data-name"), email: box.getAttribute("data-email") };
      });
      createButton.disabled = true;
      setStatus("Creating a session for " + users.length + " candidate(s)…");
      try {
        // The platform keys never reach the browser: the server calls the platform.
        var data = await createOnce(document.body.getAttribute("data-session-url"), { users: users },
                                    sessionStorage.getItem(TOKEN_KEY), key);
        lastToken = data.token;
        reopenButton.hidden = false;
        setStatus("Session created for " + users.length + " candidate(s); the token expires at " +
                  data.expiresAt + ". Opening the portal…");
        openPortal(data.token);
      } catch (err) {
        setStatus("");
        showError(err.message, err.code, err.status);
      } finally {
        createButton.disabled = false;
      }
    });

    reopenButton.addEventListener("click", function () {
      clearError();
      if (lastToken) {
        setStatus("Opening the portal again with the same token…");
        openPortal(lastToken);
      }
    });
  }

  var page = document.body.getAttribute("data-page");
  if (page === "signin") { signInPage(); }
  else if (page === "candidates") { candidatesPage(); }
})();
