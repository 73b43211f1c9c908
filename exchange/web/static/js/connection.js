// The connection-state badge in the top bar: live, connecting, or reconnecting after a delay.

/** Returns the callback the websocket client reports its state to. */
export function mountConnection(element) {
  return (state, retryMs) => {
    element.dataset.state = state;
    if (state === "open") element.textContent = "live";
    else if (state === "connecting") element.textContent = "connecting…";
    else element.textContent = `offline · retry in ${Math.ceil(retryMs / 1000)}s`;
    element.title = state === "open" ? "Streaming live updates" : "Updates are polled until the stream reconnects";
  };
}
