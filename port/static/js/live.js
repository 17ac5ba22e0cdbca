// One WebSocket to /ws/live/ per page. Every event is re-dispatched on <body> as a
// "live" DOM event, and an element whose data-live-on matches it gets a "live-refresh"
// event, so htmx elements refresh themselves with
//   data-live-on="declaration.status_changed@id=12 live.resync" hx-trigger="live-refresh"
// data-live-on lists event types, each optionally with one field@value it must carry; any
// one matching is enough. (Not an htmx trigger filter: those need eval, which the
// Content-Security-Policy forbids.)
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

  function matches(pattern, event) {
    const [type, condition] = pattern.split("@");
    if (type !== event.type) return false;
    if (!condition) return true;
    const [field, value] = condition.split("=");
    // A batch event names its objects in a list: "id=12" matches {"ids": [.., 12, ..]}.
    const many = event[field + "s"];
    if (Array.isArray(many) && many.some((item) => String(item) === value)) return true;
    return event[field] !== undefined && String(event[field]) === value;
  }

  function dispatch(event) {
    document.body.dispatchEvent(new CustomEvent("live", { detail: event }));
    document.querySelectorAll("[data-live-on]").forEach((el) => {
      if (el.dataset.liveOn.split(/\s+/).some((pattern) => pattern && matches(pattern, event))) {
        el.dispatchEvent(new CustomEvent("live-refresh", { detail: event }));
      }
    });
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
        dispatch({ type: "live.resync" });
        return;
      }
      dispatch(event);
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
