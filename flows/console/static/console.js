// Flows console: refreshes the live part of a page (an element with data-poll) while it says so.
"use strict";

const POLL_MS = 1500;

function poll(element) {
  const url = element.dataset.poll;
  window.setTimeout(async () => {
    let response;
    try {
      response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    } catch (_error) {
      poll(element); // the service is restarting or the network is down: try again later
      return;
    }
    if (!response.ok || response.redirected) return; // logged out or gone: the next navigation says why
    const holder = document.createElement("div");
    holder.innerHTML = await response.text();
    const fresh = holder.firstElementChild;
    if (fresh === null) return;
    element.replaceWith(fresh);
    if (fresh.dataset.poll) {
      poll(fresh);
    } else {
      window.location.reload(); // it ended: the actions it no longer takes go away
    }
  }, POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-poll]").forEach(poll);
});
