// One WebSocket to /ws/live/ per page. Every event is re-dispatched on <body> as a
// "live" DOM event, and an element whose data-live-on matches it gets a "live-refresh"
// event, so htmx elements refresh themselves with
//   data-live-on="declaration.status_changed@id=12 live.resync" hx-trigger="live-refresh"
// data-live-on lists event types, each optionally with one field@value it must carry; any
// one matching is enough. (Not an htmx trigger filter: those need eval, which the
// Content-Security-Policy forbids.)
// A page asks for more than its organisation's events with data-live-subscribe="topic:key ...".
// Events come in numbered frames, one per group ("stream") per commit:
//   {"type": "live.events", "stream": "org.3", "seq": 17, "events": [...]}
// A frame whose number is not the next one of its stream means frames were lost: then every
// element re-fetches ("live.resync"), as it does after every reconnect.
(function () {
  "use strict";
  const indicator = () => document.getElementById("live-indicator");
  let socket = null;
  let retry = 0;
  let opened = false; // a socket of this page was open before: the next one is a reconnect
  const lastSeq = {}; // stream -> the number of the last frame seen

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
    dispatchAll([event]);
  }

  // Every event goes to <body>; an element re-fetches once however many of them match.
  function dispatchAll(events) {
    events.forEach((event) => {
      document.body.dispatchEvent(new CustomEvent("live", { detail: event }));
    });
    document.querySelectorAll("[data-live-on]").forEach((el) => {
      const patterns = el.dataset.liveOn.split(/\s+/).filter(Boolean);
      const hit = events.find((event) => patterns.some((pattern) => matches(pattern, event)));
      if (hit) {
        el.dispatchEvent(new CustomEvent("live-refresh", { detail: hit }));
      }
    });
  }

  // True when `seq` is not the next number of `stream` (a frame was lost, or the numbers
  // moved on while this page was not listening).
  function track(stream, seq) {
    const last = lastSeq[stream];
    lastSeq[stream] = seq;
    return last !== undefined && seq !== last + 1;
  }

  // On (re)connect: the current numbers. A stream that moved since the page last heard it
  // missed frames; a first connect only sets the numbers.
  function baseline(streams) {
    let moved = false;
    Object.entries(streams).forEach(([stream, seq]) => {
      if (lastSeq[stream] !== undefined && lastSeq[stream] !== seq) moved = true;
      lastSeq[stream] = seq;
    });
    return moved;
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}/ws/live/`);
    setState("connecting");
    let reconnected = false;
    let subscribing = false;
    socket.addEventListener("open", () => {
      retry = 0;
      reconnected = opened;
      opened = true;
      const topics = subscriptions();
      subscribing = topics.length > 0;
      topics.forEach((message) => socket.send(JSON.stringify(message)));
      if (topics.length === 0) {
        setState("connected");
      }
    });
    socket.addEventListener("message", (message) => {
      const frame = JSON.parse(message.data);
      if (frame.type === "live.events") {
        const gap = track(frame.stream, frame.seq);
        dispatchAll(gap ? [{ type: "live.resync", stream: frame.stream }, ...frame.events] : frame.events);
        return;
      }
      if (frame.type === "live.joined") {
        // After a reconnect, re-fetch whatever the numbers say: a change made while the
        // socket was away may have had no frame at all (its push is best effort, and
        // fails while Redis is down). A page with topics re-fetches on "subscribed".
        const moved = baseline(frame.streams);
        if (moved || (reconnected && !subscribing)) dispatch({ type: "live.resync" });
        return;
      }
      if (frame.type === "subscribed") {
        setState("connected");
        lastSeq[frame.stream] = frame.seq;
        // Catch up on anything that happened before the subscription took effect.
        dispatch({ type: "live.resync" });
        return;
      }
      dispatch(frame);
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
