// Replay: every frame of a live map, sent once (args.frames: float32 (F, N, 2) little-endian, normalised like
// `xy`; args.frame_titles: F strings), played here with the animated transition, no server round trip a frame.
// The bar: a Play/Pause button and a slider over the frames; the title above the canvas names the frame.
import { S, TRANSITION_MS, state } from './store.js';
import { f32, fitXy, pointArrays } from './unpack.js';
import { aspect } from './plot.js';
import { indexInWorker } from './kdworker.js';
import { hideHover } from './hover.js';
import { drawOverlay } from './overlay.js';

// Play's pace: a whole replay lasts about REPLAY_MS however many frames the run kept (at most 60: about 250 ms a
// frame, the Plotly replay's pace); a replay of few frames moves at the map's own pace (TRANSITION_MS, then a rest
// of REPLAY_PAUSE_MS). At that pace alone 60 frames took at least 53 s
export const REPLAY_MS = 15000;
export const REPLAY_PAUSE_MS = 150;       // rest on each frame between transitions, at the map's own pace
const MIN_STEP_MS = 250;
// A test that checks what Play draws, not its pace, plays faster (window.__scatter.replayFaster): the pace is
// [transition, rest] divided by `speed`
export const pace = { speed: 1 };

// The time from one frame to the next while playing `count` frames: [transition, rest] in ms
export function playStep(count) {
  const [move, rest] = productStep(count);
  return [move / pace.speed, rest / pace.speed];
}

function productStep(count) {
  const full = TRANSITION_MS + REPLAY_PAUSE_MS;
  const step = Math.min(full, Math.max(MIN_STEP_MS, REPLAY_MS / Math.max(1, count - 1)));
  const rest = Math.round(step * REPLAY_PAUSE_MS / full);
  return [step - rest, rest];
}
const bar = document.getElementById('replay');
const playBtn = document.getElementById('replay-play');
const slider = document.getElementById('replay-slider');
const titleEl = document.getElementById('title');

export const replay = { frames: null, titles: [], count: 0, k: -1, playing: false, shown: 0, run: 0, target: -1, history: [], moving: false };

// The frames of a new data_key (or none: the bar and title hide); the points drawn are the last frame
export function setFrames(args) {
  stop();
  const xy = f32(args.frames);
  const n = S.n || (args.xy ? args.xy.byteLength / 8 : 0);
  if (!xy || !n || xy.length % (2 * n)) {
    replay.frames = null; replay.count = 0; replay.k = -1;
    bar.hidden = true; titleEl.hidden = true;
    return;
  }
  replay.frames = xy;
  replay.count = xy.length / (2 * n);
  replay.titles = args.frame_titles || [];
  replay.k = replay.count - 1;
  slider.max = String(replay.count - 1);
  slider.value = String(replay.k);
  bar.hidden = false;
  showTitle();
}

function showTitle() {
  const t = replay.titles[replay.k];
  titleEl.textContent = t || '';
  titleEl.hidden = !t;
}

// Moves the points to frame k (animated); resolves when they are there
async function showFrame(k, duration) {
  const n = S.n;
  const raw = replay.frames.subarray(2 * n * k, 2 * n * (k + 1));
  const xy = S.lastArgs.fit ? fitXy(raw, aspect()) : raw;
  replay.k = k;
  slider.value = String(k);
  showTitle();
  hideHover();
  const pts = pointArrays(xy, S.cats, S.vals, n);
  const index = await indexInWorker(xy, n);
  S.kd = index;
  S.xyHeld = xy;
  replay.moving = true;
  await S.plot.draw(pts, { zDataType: 'categorical', wDataType: 'continuous', spatialIndex: index.data,
                         transition: duration > 0, transitionDuration: duration, transitionEasing: 'quadInOut',
                         select: state.points.length ? state.points : undefined });
  replay.moving = false;
  replay.shown += 1;
  replay.history.push(k);
  if (replay.history.length > 1000) replay.history.shift();
  drawOverlay(true);
}

function stop() {
  replay.playing = false;
  replay.run += 1;
  playBtn.textContent = '\u25B6 Play';
}

async function play() {
  if (!replay.frames) return;
  const run = ++replay.run;
  replay.playing = true;
  playBtn.textContent = '\u275A\u275A Pause';
  let k = replay.k >= replay.count - 1 ? 0 : replay.k + 1;
  if (replay.k >= replay.count - 1) {      // from the start: the first frame at once, then every next one moves
    S.drawing = S.drawing.then(() => showFrame(0, 0));
    await S.drawing;
    k = 1;
  }
  const [moveMs, restMs] = playStep(replay.count);
  for (; k < replay.count && replay.run === run; k++) {
    S.drawing = S.drawing.then(() => (replay.run === run ? showFrame(k, moveMs) : null));
    await S.drawing;
    await new Promise((r) => setTimeout(r, restMs));
  }
  if (replay.run === run) stop();
}

playBtn.addEventListener('click', () => (replay.playing ? stop() : play()));
slider.addEventListener('input', () => {
  if (!replay.frames) return;
  stop();
  replay.target = Number(slider.value);    // (a drag's many inputs: the chain draws the newest one once)
  S.drawing = S.drawing.then(() => (replay.target !== replay.k && replay.frames
    ? showFrame(replay.target, TRANSITION_MS / 3) : null)).catch((e) => { console.error(e); });
});
