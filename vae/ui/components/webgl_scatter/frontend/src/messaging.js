// Messages to Streamlit (components v1 bare postMessage protocol): the value and the frame height.
import { root, state, timing } from './store.js';
export const post = (type, extra) => window.parent.postMessage({ isStreamlitMessage: true, type, ...extra }, '*');
export const sendValue = () => {
  timing.sentAt = Date.now();      // ms since the epoch, for the bench's split of a round trip
  post('streamlit:setComponentValue', { value: { ...state }, dataType: 'json' });
};

let frameHeight = -1;
export function setHeight() {
  const h = root.getBoundingClientRect().height + 4;
  if (h === frameHeight) return;
  frameHeight = h;
  post('streamlit:setFrameHeight', { height: h });
}
