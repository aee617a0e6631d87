// Messages to Streamlit (components v1 bare postMessage protocol): the value and the frame height.
//
// The value goes as bytes (`dataType: 'bytes'`: Python gets one `bytes`), not JSON, so that a selection of
// 100,000 points costs 400 KB of int32 and no JSON list: uint32 LE length of a UTF-8 JSON header (every field
// of `state` but `points`), the header, zero padding to a multiple of 4 bytes, then `points` as int32 LE.
// Python: vae.ui.components.webgl_scatter.decode_value.
import { root, state, timing } from './store.js';
export const post = (type, extra) => window.parent.postMessage({ isStreamlitMessage: true, type, ...extra }, '*');

export function encodeValue(value) {
  const { points, ...rest } = value;
  const head = new TextEncoder().encode(JSON.stringify(rest));
  const off = 4 + Math.ceil(head.length / 4) * 4;
  const n = points ? points.length : 0;
  const buf = new ArrayBuffer(off + 4 * n);
  new DataView(buf).setUint32(0, head.length, true);
  new Uint8Array(buf, 4, head.length).set(head);
  if (n) new Int32Array(buf, off, n).set(points);     // (little-endian on every platform a browser runs on)
  return new Uint8Array(buf);
}

export const sent = { need: 0 };   // the length of the ask Python last got (an ack is due while it differs)

export const sendValue = () => {
  timing.sentAt = Date.now();      // ms since the epoch, for the bench's split of a round trip
  sent.need = state.need.length;
  post('streamlit:setComponentValue', { value: encodeValue(state), dataType: 'bytes' });
};

let frameHeight = -1;
export function setHeight() {
  const h = root.getBoundingClientRect().height + 4;
  if (h === frameHeight) return;
  frameHeight = h;
  post('streamlit:setFrameHeight', { height: h });
}
