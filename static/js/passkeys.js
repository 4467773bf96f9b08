// Passkey ceremonies: a button with data-passkey="get" (sign in, second factor) or
// "create" (register) asks the server for options, runs the browser's WebAuthn call and
// posts the result back as a form (the hub takes form bodies only; the WebAuthn data travels
// as JSON text in the "payload" field). The server answers {redirect} or {error}.
(function () {
  "use strict";

  function show(button, message) {
    var box = document.getElementById(button.dataset.errorBox || "passkey-error");
    if (box) { box.textContent = message; box.hidden = false; }
  }

  async function post(url, csrf, body) {
    var response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf },
      body: new URLSearchParams({ csrf_token: csrf, payload: JSON.stringify(body || {}) }),
    });
    var data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) { throw new Error(data.error || "Something went wrong. Please try again."); }
    return data;
  }

  async function run(button) {
    if (!window.PublicKeyCredential) {
      show(button, "This browser cannot use passkeys.");
      return;
    }
    var csrf = button.dataset.csrf || "";
    var options = await post(button.dataset.options, csrf);
    var credential;
    try {
      if (button.dataset.passkey === "create") {
        credential = await navigator.credentials.create({
          publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options),
        });
      } else {
        credential = await navigator.credentials.get({
          publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
        });
      }
    } catch (e) {
      throw new Error("The passkey was not used (cancelled or not available).");
    }
    var body = { credential: credential.toJSON() };
    var nameInput = button.dataset.nameInput && document.getElementById(button.dataset.nameInput);
    if (nameInput) { body.name = nameInput.value; }
    var nextInput = button.dataset.nextInput && document.getElementById(button.dataset.nextInput);
    if (nextInput) { body.next = nextInput.value; }
    var done = await post(button.dataset.finish, csrf, body);
    window.location.assign(done.redirect);
  }

  document.querySelectorAll("[data-passkey]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function (event) {
      event.preventDefault();
      button.disabled = true;
      run(button).catch(function (err) { show(button, err.message); }).finally(function () {
        button.disabled = false;
      });
    });
  });
})();
