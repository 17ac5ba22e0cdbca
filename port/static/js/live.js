// One WebSocket to /ws/live/ per page. Every event is re-dispatched on <body> as a
// "live" DOM event, so htmx elements refresh themselves with
//   hx-trigger="live[detail.type=='declaration.status_changed' && detail.id==12] from:body"
// A page asks for more than its organisation's events with data-live-subscribe="topic:key ...".
(function () {
  "use strict";
  const indicator = () => document.getElementById("live-indicator");
  let socket = null;
  let retry = 0;

  function setState(state) {
    const el = indicator();
    if (el) {
      el.dataset.state = state;
      el.title = el.dataset["label" + state.charAt(0).toUpperCase() + state.slice(1)] || state;
    }
    document.body.dataset.live = state;
  }

  function subscriptions() {
    const topics = [];
    document.querySelectorAll("[data-live-subscribe]").forEach((el) => {
      el.dataset.liveSubscribe.split(/\s+/).filter(Boolean).forEach((pair) => {
        const [topic, key] = pair.split(":");
        topics.push({ type: "subscribe", topic: topic, key: key || "" });
      });
    });
    return topics;
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}/ws/live/`);
    setState("connecting");
    socket.addEventListener("open", () => {
      retry = 0;
      const topics = subscriptions();
      topics.forEach((message) => socket.send(JSON.stringify(message)));
      if (topics.length === 0) {
        setState("connected");
      }
    });
    socket.addEventListener("message", (message) => {
      const event = JSON.parse(message.data);
      if (event.type === "subscribed") {
        setState("connected");
        // Catch up on anything that happened before the subscription took effect.
        document.body.dispatchEvent(new CustomEvent("live", { detail: { type: "live.resync" } }));
        return;
      }
      document.body.dispatchEvent(new CustomEvent("live", { detail: event }));
    });
    socket.addEventListener("close", (closed) => {
      if (closed.code === 4401) {
        setState("offline");
        return; // signed out: do not retry
      }
      setState("reconnecting");
      retry = Math.min(retry + 1, 6);
      window.setTimeout(connect, 500 * 2 ** retry);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (document.body.dataset.authenticated === "true") {
      connect();
    }
  });
})();
