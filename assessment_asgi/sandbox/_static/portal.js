/* The sandbox portal page: a Finish button per candidate queues assessment.completed. */
(function () {
  "use strict";
  function tell(type, extra) {
    if (window.parent && window.parent !== window) {
      var data = { source: "assessment-portal", type: type };
      for (var key in extra) { if (Object.prototype.hasOwnProperty.call(extra, key)) { data[key] = extra[key]; } }
      window.parent.postMessage(data, "*");
    }
  }

  var error = document.getElementById("portal-error");
  if (error) {
    tell("error", { message: error.textContent });
    return;
  }
  var root = document.getElementById("assessment-portal");
  if (!root) { return; }
  var base = root.getAttribute("data-base-url");
  var assessmentId = root.getAttribute("data-assessment-id");
  var message = document.getElementById("portal-message");

  function show(text, isError) {
    if (!message) { return; }
    message.textContent = text;
    message.setAttribute("data-state", isError ? "error" : "ok");
  }

  function post(path, body) {
    return fetch(base + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (!response.ok || !json.success) {
          throw new Error(json.error || json.message || ("Request failed: " + response.status));
        }
        return json.data;
      });
    });
  }

  tell("opened", { detail: { assessmentId: assessmentId } });

  Array.prototype.forEach.call(document.querySelectorAll("[data-testid=finish-button]"), function (button) {
    button.addEventListener("click", function () {
      var row = button.closest("[data-testid=portal-candidate]");
      var status = row.querySelector("[data-testid=candidate-status]");
      button.disabled = true;
      post("/portal/complete", {
        assessmentId: assessmentId,
        candidateId: button.getAttribute("data-candidate-id"),
        candidateKey: button.getAttribute("data-candidate-key")
      }).then(function (data) {
        status.textContent = "Finished: " + data.score + "/100 (" + (data.passed ? "passed" : "not passed") + ")";
        row.setAttribute("data-state", "finished");
        show("Result queued as an assessment.completed event.", false);
        tell("completed", { detail: data });
      }).catch(function (err) {
        button.disabled = false;
        show(err.message, true);
      });
    });
  });

  var send = document.getElementById("portal-send");
  if (send) {
    send.addEventListener("click", function () {
      send.disabled = true;
      post("/portal/send", { assessmentId: assessmentId, portalKey: root.getAttribute("data-portal-key") }).then(function () {
        show("Queued an assessment.sent event.", false);
      }).catch(function (err) {
        send.disabled = false;
        show(err.message, true);
      });
    });
  }
})();
