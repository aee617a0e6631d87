// Shared constants, DOM elements and mutable state of the WebGL scatter component.

export const THUMB_MAX_IN_VIEW = 400;      // thumbnails are drawn (and asked for) when at most this many points are in view
export const THUMB_PX = 36;
export const PERFORMANCE_MODE_POINTS = 300000;   // above this many points: regl-scatterplot's performanceMode
export const LOD_POINTS = 150000;          // while the view moves, maps above PERFORMANCE_MODE_POINTS draw at most this many
export const LOD_MIN_POINTS = 20000;       // ... and at least this many, fewer while frames are slower than
export const LOD_FRAME_MS = 40;            // ... this (the median spacing of a move's frames; the goal is 50 ms)
export const LOD_ADAPT_FRAMES = 3;         // ... looked at every this many frames of a move, and at its end
export const LOD_REST_MS = 200;            // ... and every point again once the view has rested this long
export const LOD_REST_FRAMES = 3;          // ... and for at least this many animation frames (slow frames: longer)
export const TRANSITION_MS = 750;          // points moving to a new layout of the same points
export const HOVER_PX = 112;               // the hovered point's image, CSS px
export const HOVER_ASK = 64;               // images asked for around a hovered point that has none yet
export const HOVER_REST_MS = 120;          // ... once the mouse has rested on it this long
export const CLICK_DELAY_MS = 260;         // an empty spot's click waits this long for a double-click (which clears)

// instance: this frame's id (a frame made anew sends values that differ from the last frame's, so each reaches Python)
// box: [x0, y0, x1, y1] normalised, the corners of the box that made the selection (kind 'box'), else null
export const state = { webgl: null, error: null, seq: 0, kind: 'none', points: [], spot: null, box: null, need: [], need_seq: 0,
  drawn: null, instance: Math.random().toString(36).slice(2, 12) };

export const root = document.getElementById('root');
export const canvas = document.getElementById('plot');
export const overlay = document.getElementById('overlay');
export const legendEl = document.getElementById('legend');
export const noteEl = document.getElementById('note');
export const hoverEl = document.getElementById('hover');
export const hoverImg = document.getElementById('hover-img');
export const hoverText = document.getElementById('hover-text');
export const thumbs = new Map();           // position -> {bmp, sx, sy, w, h}
export const timing = { firstPaintMs: null, points: 0, bytes: 0, transitions: 0, mismatchedFrames: 0 };

// the state the modules share (one object: ES module bindings cannot be reassigned by importers)
export const S = {
  plot: null,
  renderer: null,                  // renderer.js: regl-scatterplot draws into the page's canvas through it
  dataKey: null,
  n: 0,
  height: 620,
  lastArgs: {},
  drawing: Promise.resolve(),
  nextDraw: null,                  // {args, t0}: the newest points waiting for the draw under way (index.js)
  drawsQueued: 0,                  // draw links in S.drawing not run yet (at most one: the test's check of the slot)
  framesSkipped: 0,                // renders whose points a newer render replaced before they were drawn
  renders: 0,                      // render messages from Python
  atlasRenders: 0,                 // ... those that brought an atlas
  rendersWithoutAtlas: 0,          // ... those in a row without one, since the last that brought one
  asked: false,
  highlight: [],
  query: -1,
  queryXy: null,                   // [x, y] normalised, a query that is no point (a clicked spot), or null
  kd: null,                        // KDBush over the points drawn (hover neighbourhoods)
  xyHeld: null,                    // Float32Array (2N,) of the points drawn
  cats: null,                      // uint16 (N,) categories of the points drawn, or null (colour by value)
  vals: null,                      // float32 (N,) values of the points drawn (colour by value), or null
  performanceMode: false,
  lassoDrawn: [],                  // the lasso (or box) being drawn: its vertices, normalised (empty once it ended)
  mode: 'panZoom',                 // the tool (selection.js setMode): 'panZoom', 'lasso' or 'box'
};
